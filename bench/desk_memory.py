"""Desk memory over simulated weeks: prints the RSS curve, asserts nothing.

    python bench/desk_memory.py [--days 30] [--speed 6000] [--min-events 10000000]
                                [--size 160x48] [--tracemalloc DAY_A,DAY_B]

Runs the real desk (DeskApp under Pilot's run_test, headless, real panes) over the real
demo engine (`tapedesk demo`'s: bundled 1m bars looped, paper venue, SQLite journal in a
temp dir). The first ``--days`` simulated days run at ``--speed`` (6000x: a day in ~15 s,
~140 frames a simulated day, so what grows per repaint shows); after that the replay goes
as fast as it can (speed 0; it still yields to the event loop between batches, so the desk
keeps painting) until at least ``--min-events`` market events went through.

Prints one line per simulated day for the first ``--days`` days, then one per 30 days:
RSS, events, frames, and the size of
everything the desk and the engine keep for it (trade rows, log lines, equity points, trades
held, explanation history, notifications). The summary compares RSS after the first
simulated day with RSS after ``--days`` and at the end (the target: within 30 MB).

``--tracemalloc 1,7`` also diffs tracemalloc snapshots taken after those simulated days
and prints the top growth by line: that is how the growth was found, not guessed.

The demo's 1m bars are one event a simulated minute, so ≥ 10 M events is ~19 simulated
years; the month is the first 30 days of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tapedesk.engine.assembly import build_demo_engine  # noqa: E402
from tapedesk.tui.app import make_app  # noqa: E402

DAY_MS = 86_400_000


def rss_mb() -> float:
    """Current resident set size (not the peak: the curve must be able to go down)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def kept(app, engine) -> str:
    """Sizes of what the desk keeps, so a growing one is named on the line it grows."""
    return (f"rows {app.history.row_count:4d} log {len(app.explain.lines):4d} "
            f"hist {len(app.explain.history):4d} eq {len(engine.equity_samples):5d} "
            f"trades {len(engine.trades):5d} recent {len(engine.recent):4d} "
            f"notes {len(app._notifications):2d}")


async def run(args: argparse.Namespace) -> None:
    width, height = (int(v) for v in args.size.split("x"))
    marks = [float(v) for v in args.tracemalloc.split(",")] if args.tracemalloc else []
    if marks:
        tracemalloc.start(10)
    with tempfile.TemporaryDirectory() as home:
        engine = build_demo_engine(Path(home), speed=args.speed, control=False)
        app = make_app(engine, bell=False)
        async with app.run_test(size=(width, height)) as pilot:
            while not app.engine_ready:
                await pilot.pause(0.05)
            wall0 = time.monotonic()
            t0 = None
            next_day = 1
            curve: dict[int, float] = {}
            snaps: dict[float, tracemalloc.Snapshot] = {}
            print(f"{'day':>6} {'wall s':>7} {'events':>10} {'frames':>7} {'RSS MB':>7}  kept")
            while True:
                await pilot.pause(0.05)
                now = engine.clock.now()
                if not now:
                    continue
                t0 = t0 or now
                day = (now - t0) / DAY_MS
                for mark in marks:
                    if day >= mark and mark not in snaps:
                        gc.collect()
                        snaps[mark] = tracemalloc.take_snapshot()
                if day < next_day:
                    continue
                events = engine.feed.events_emitted
                gc.collect()
                rss = rss_mb()
                curve[int(day)] = rss
                print(f"{day:6.1f} {time.monotonic() - wall0:7.1f} {events:10,d} "
                      f"{app.ticks:7d} {rss:7.1f}  {kept(app, engine)}", flush=True)
                next_day = int(day) + (1 if day < args.days else 30)
                if day >= args.days:
                    engine.feed.speed = 0.0  # the month is measured: now the event count
                if day >= args.days and events >= args.min_events:
                    break
            await pilot.press("ctrl+x")
            await pilot.pause(0.2)
    first = curve[min(curve)]
    month = next(v for d, v in sorted(curve.items()) if d >= args.days)
    last = curve[max(curve)]
    print(f"\nRSS after day {min(curve)}: {first:.1f} MB; after day {args.days}: {month:.1f} MB "
          f"({month - first:+.1f}); at the end (day {max(curve)}, "
          f"{engine.feed.events_emitted:,d} events): {last:.1f} MB ({last - first:+.1f}). "
          f"Target: within 30 MB of day 1.")
    if len(snaps) == 2:
        a, b = (snaps[m] for m in marks)
        print(f"\ntracemalloc growth, day {marks[0]} → day {marks[1]} (top 20 lines):")
        for stat in b.compare_to(a, "lineno")[:20]:
            print(f"  {stat}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=30, help="simulated days printed one by one")
    ap.add_argument("--min-events", type=int, default=10_000_000,
                    help="keep going (one line per 30 days) until this many market events")
    ap.add_argument("--speed", type=float, default=6000.0,
                    help="replay speed for the first --days (0 = as fast as possible; "
                         "the demo runs at 600)")
    ap.add_argument("--size", default="160x48", help="terminal size WxH")
    ap.add_argument("--tracemalloc", default="", help="two simulated days to diff, e.g. 1,7")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
