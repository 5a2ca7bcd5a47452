"""Backtest throughput: bars/s through the whole strategy + risk + paper-venue path, and peak RSS.

Tiles the shipped real 1m series to ~1 M bars. Copies alternate forward and time-mirrored
(bar order reversed, open and close swapped) so prices stay continuous across the seams —
a plain repeat would jump ~$8,000 at every seam and trip every strategy and stop at once.
Timestamps are re-laid one minute apart so time only moves forward.

    python bench/backtest_throughput.py [--bars 1000000] [--strategy ema_cross]
                                        [--param fast=12 --param slow=26] [--fill-at close]
    python bench/backtest_throughput.py --whole-command [--sizes 45031,1000000,5000000]
                                        [--strategy ema_cross] [-- extra tapedesk options]

The first form times the engine alone (bars generated in memory). ``--whole-command`` writes
the tiled bars to a CSV on disk (bench/out/tiled_<n>_1m.csv, kept for the next run) and
times the whole ``tapedesk backtest --data <file> --no-progress`` process, file reading and
start-up included, with its peak RSS (``os.wait4``, measured from a parent that has not
loaded the engine: a forked child's ru_maxrss starts at its parent's size).

Target (issue 2): >= 500,000 bars/s and <= 300 MiB peak RSS at 1 M bars on one core.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tapedesk.engine.events import Bar
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M


def rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def iter_tiled(base: list[Bar], n: int, t0: int | None = None) -> Iterator[Bar]:
    """``n`` 1m bars from ``base``: forward, mirrored, forward, … with continuous prices.
    A generator, so a backtest that streams its input never holds all ``n`` bars.
    ``t0``: the first bar's open time (default the sample's own)."""
    interval = base[1].open_ts - base[0].open_ts
    t0 = base[0].open_ts if t0 is None else t0
    mirrored = [Bar(b.symbol, 0, 0, b.close, b.high, b.low, b.open, b.volume)
                for b in reversed(base)]
    done = 0
    k = 0
    while done < n:
        src = base if k % 2 == 0 else mirrored
        for b in src[: n - done]:
            o = t0 + done * interval
            yield Bar(b.symbol, o, o + interval - 1, b.open, b.high, b.low, b.close, b.volume)
            done += 1
        k += 1


def tile_bars(base: list[Bar], n: int) -> list[Bar]:
    return list(iter_tiled(base, n))


def collector(args: argparse.Namespace) -> AbstractContextManager[None]:
    """The garbage collector's policy of ``tapedesk backtest`` around the run (set-up frozen,
    gen0 at 50,000), unless ``--default-gc``: under CPython's default (gen0 700) the
    collector's share moves with every change in the pattern of allocations, so an
    instruction count could rise or fall with no change in what the command does."""
    if args.default_gc:
        return nullcontext()
    from tapedesk.engine.backtest_cli import run_gc

    return run_gc()


def run(args: argparse.Namespace) -> None:
    from tapedesk.engine import backtest
    from tapedesk.engine.config import DeskConfig
    from tapedesk.engine.strategy import create

    if args.from_copy is not None:
        run_from_copy(args)
        return
    t = time.perf_counter()
    base = load_bars(args.data)
    load_s = time.perf_counter() - t
    bars = tile_bars(base, args.bars) if args.materialize else []
    gc.collect()
    rss_before = rss_mib()
    how = "materialised as a list" if args.materialize else "generated while the backtest reads"
    print(f"python {platform.python_version()} on {platform.machine()}: {args.bars:,} 1m bars "
          f"tiled from {args.data.name} ({how}); sample loaded in {load_s * 1000:.0f} ms; "
          f"RSS before the run {rss_before:.0f} MiB")

    if not args.materialize:
        t = time.perf_counter()
        for _ in iter_tiled(base, args.bars):
            pass
        gen_s = time.perf_counter() - t
        print(f"generating the bars alone: {gen_s:.2f} s ({args.bars / gen_s:,.0f} bars/s); "
              "this cost is inside the backtest figure below (use --materialize to exclude it)")

    params = dict(p.split("=", 1) for p in args.param)
    strategies = [create(args.strategy, **params)]
    options: dict = {"fill_at": args.fill_at} if args.fill_at else {}
    if args.no_risk:
        options["no_risk"] = True
    if args.fixed_qty:
        from decimal import Decimal

        options["fixed_qty"] = Decimal(args.fixed_qty)
    source = bars if args.materialize else iter_tiled(base, args.bars)
    t = time.perf_counter()
    cpu = time.process_time()
    with collector(args):
        result = backtest.run_backtest(source, strategies, DeskConfig(), **options)
    elapsed = time.perf_counter() - t
    cpu = time.process_time() - cpu
    peak = rss_mib()
    trades = getattr(result, "trades", None)
    n = result.events
    print(f"backtest: {n:,} bars in {elapsed:.2f} s = {n / elapsed:,.0f} bars/s "
          f"(strategy {args.strategy}, {len(trades) if trades is not None else '?'} trades); "
          f"CPU {cpu:.2f} s = {n / cpu:,.0f} bars/s")
    print(f"peak RSS: {peak:.0f} MiB (before the run: {rss_before:.0f} MiB)")
    m = result.metrics
    print(f"sanity: net pnl {m.net_pnl:+,.2f}, fees {m.fees:,.2f}, "
          f"exposure {m.exposure_pct:.1f} %, "
          f"max drawdown {m.max_drawdown_pct:.2f} %")
    print(f"target: >= 500,000 bars/s -> {'MET' if n / elapsed >= 500_000 else 'NOT MET'}; "
          f"<= 300 MiB -> {'MET' if peak <= 300 else 'NOT MET'}")


def run_from_copy(args: argparse.Namespace) -> None:
    """The bars read as ``tapedesk backtest`` reads a large CSV the second time: from its
    binary copy in ``args.from_copy`` (the tiled CSV and its copy are written there first
    if missing; ``--prepare`` stops there, so a counted run reads the copy only)."""
    from decimal import Decimal

    from tapedesk.engine import backtest
    from tapedesk.engine.config import DeskConfig
    from tapedesk.engine.feeds import bar_copy
    from tapedesk.engine.feeds.files import iter_events
    from tapedesk.engine.strategy import create

    csv = args.from_copy / f"tiled_{args.bars}_1m.csv"
    if not csv.exists():
        write_tiled(args.bars, csv)
    if bar_copy.valid_copy(args.from_copy, csv, "ohlcv_csv") is None:
        for _ in iter_events(csv, None, None, None, None, "ohlcv_csv", args.from_copy):
            pass
    if args.prepare:
        return
    options: dict = {"fill_at": args.fill_at} if args.fill_at else {}
    if args.no_risk:
        options["no_risk"] = True
    if args.fixed_qty:
        options["fixed_qty"] = Decimal(args.fixed_qty)
    params = dict(p.split("=", 1) for p in args.param)
    t = time.perf_counter()
    with collector(args):
        result = backtest.run_backtest(
            iter_events(csv, None, None, None, None, "ohlcv_csv", args.from_copy),
            [create(args.strategy, **params)], DeskConfig(), **options)
    elapsed = time.perf_counter() - t
    print(f"backtest from the copy: {result.events:,} bars in {elapsed:.2f} s "
          f"(strategy {args.strategy}, {len(result.trades)} trades)")


def write_tiled(n: int, path: Path) -> None:
    """``n`` tiled bars as an OHLCV CSV (the bundled sample's own columns). The series starts
    early enough to end a day before now: a reader refuses times in the future."""
    from tapedesk.engine.clock import iso

    base = load_bars(SAMPLE_BARS_1M)
    day = 86_400_000
    latest_start = (int(time.time() * 1000) - n * 60_000) // day * day - day
    t0 = min(base[0].open_ts, latest_start)
    tmp = path.with_suffix(".part")
    with tmp.open("w") as fh:
        fh.write("timestamp,open,high,low,close,volume\n")
        for b in iter_tiled(base, n, t0):
            fh.write(f"{iso(b.open_ts)},{b.open!r},{b.high!r},{b.low!r},{b.close!r},"
                     f"{b.volume!r}\n")
    tmp.replace(path)


def whole_command(args: argparse.Namespace, extra: list[str]) -> None:
    """bars/s and peak RSS of the whole `tapedesk backtest` process at each size."""
    import os
    import subprocess

    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    exe = Path(sys.executable).with_name("tapedesk")
    opts = ["--strategy", args.strategy, *[a for p in args.param for a in ("--param", p)]]
    if args.fill_at:
        opts += ["--fill-at", args.fill_at]
    opts += extra
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} cores; whole command: tapedesk backtest --data <file> "
          f"--no-progress {' '.join(opts)}")
    print(f"{'bars':>10} {'file MiB':>9} {'seconds':>8} {'bars/s':>9} {'peak RSS MiB':>13}")
    for n in args.sizes:
        path = out / f"tiled_{n}_1m.csv"
        if not path.exists():
            subprocess.run([sys.executable, __file__, "--write-tiled", str(n), str(path)],
                           check=True)
        cmd = [str(exe), "--data-dir", str(out / "home"), "backtest", "--data", str(path),
               "--no-progress", *opts]
        t = time.perf_counter()
        with (out / "whole_command.out").open("w") as fh:
            proc = subprocess.Popen(cmd, stdout=fh)
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        code = os.waitstatus_to_exitcode(status)
        if code:
            raise SystemExit(f"tapedesk exited {code}: see {out / 'whole_command.out'}")
        import re

        seen = re.search(r"of ([\d,]+) bars", (out / "whole_command.out").read_text())
        if seen is None or int(seen.group(1).replace(",", "")) != n:
            raise SystemExit(f"the backtest did not read all {n:,} bars: {seen and seen.group(0)}")
        print(f"{n:>10,} {path.stat().st_size / 2**20:>9,.0f} {wall:>8.2f} {n / wall:>9,.0f} "
              f"{usage.ru_maxrss / 1024:>13,.0f}", flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--write-tiled"]:
        write_tiled(int(sys.argv[2]), Path(sys.argv[3]))
        return
    argv, extra = sys.argv[1:], []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--whole-command", action="store_true",
                    help="time the whole `tapedesk backtest` process on tiled files on disk")
    ap.add_argument("--sizes", type=lambda t: [int(x) for x in t.split(",")],
                    default=[45_031, 1_000_000, 5_000_000])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=SAMPLE_BARS_1M)
    ap.add_argument("--strategy", default="ema_cross")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--materialize", action="store_true",
                    help="build the whole bar list first (measures the list's memory too)")
    ap.add_argument("--fill-at", default=None, choices=["close", "next-open", "quote"])
    ap.add_argument("--no-risk", action="store_true", help="as the CLI's --no-risk")
    ap.add_argument("--fixed-qty", default=None, help="as the CLI's --fixed-qty")
    ap.add_argument("--from-copy", type=Path, default=None, metavar="DIR",
                    help="read the tiled bars from their binary copy in DIR (written if missing)")
    ap.add_argument("--prepare", action="store_true", help="with --from-copy: write only")
    ap.add_argument("--default-gc", action="store_true",
                    help="CPython's default collector policy, not the command's")
    args = ap.parse_args(argv)
    if args.whole_command:
        whole_command(args, extra)
    else:
        run(args)


if __name__ == "__main__":
    main()
