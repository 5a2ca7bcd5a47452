"""UI throughput benchmark: prints figures, asserts nothing.

    python3 bench/ui_throughput.py [--seconds 5] [--rates 2000,5000,20000] [--presses 40]

A. Absorption: the desk (headless, 160x48, real Textual, real panes) attached to an engine
   whose subscription receives N events/s (98 % explanations, 1 % fills, 1 % round trips:
   far above any real desk's rate of *derived* events). Reports events absorbed/s, events
   dropped, refresh ("frame") time p50/p99/max, event-loop lag p99 (how late a 10 ms ticker
   fires: what a keypress would feel), and RSS growth.
B. Keypress → e-stop latency under 2,000 events/s: ctrl+x pressed through Pilot; measured to
   the moment every cancel / close request has been handed to the venue. With the real
   engine (when engine.assembly is present) the venue's cancel_all and submit are timed;
   otherwise the engine's emergency_stop entry is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tapedesk.engine.events import (  # noqa: E402
    Explanation,
    ExplanationKind,
    Fill,
    Liquidity,
    OrderRole,
    RoundTrip,
    Side,
)
from tapedesk.tui.app import make_app  # noqa: E402

from tests.tui.fake_engine import T0, FakeEngine  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def make_event(i: int):
    r = i % 100
    if r == 98:
        return Fill(client_id=f"c{i}", symbol="BTCUSDT", side="BUY", qty=Decimal("0.01"),
                    price=Decimal("56000"), fee=Decimal("0.28"), ts=T0 + i,
                    liquidity=Liquidity.TAKER, role=OrderRole.ENTRY)
    if r == 99:
        return RoundTrip(symbol="BTCUSDT", side=Side.LONG, qty=Decimal("0.01"),
                         entry_price=Decimal("56000"), exit_price=Decimal("56050"),
                         entry_ts=T0 + i - 500, exit_ts=T0 + i, gross_pnl=Decimal("0.5"),
                         fees=Decimal("0.56"), funding=Decimal(0), pnl=Decimal("-0.06"),
                         strategy="ema_cross", reason="take profit")
    kind = ExplanationKind.REFUSED if r % 2 else ExplanationKind.TAKEN
    return Explanation(T0 + i, kind, f"signal {i}: stop 0.12% below the 0.15% minimum",
                       strategy="ema_cross", symbol="BTCUSDT", rule="stop_distance")


async def produce(engine: FakeEngine, rate: int, stop: asyncio.Event, counter: list[int]) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while not stop.is_set():
        due = int((loop.time() - t0) * rate)
        while counter[0] < due:
            engine.emit(make_event(counter[0]))
            counter[0] += 1
        await asyncio.sleep(0.002)


async def lag_probe(stop: asyncio.Event, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.01)
        lags.append(loop.time() - t - 0.01)


async def absorption(rate: int, seconds: float) -> None:
    engine = FakeEngine(position=True)
    app = make_app(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        while not app.engine_ready:
            await pilot.pause(0.01)
        app.frame_times.clear()
        rss0 = rss_mb()
        stop, counter, lags = asyncio.Event(), [0], []
        seen0 = app.events_seen
        tasks = [asyncio.create_task(produce(engine, rate, stop, counter)),
                 asyncio.create_task(lag_probe(stop, lags))]
        t0 = time.perf_counter()
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        await pilot.pause(0.25)
        elapsed = time.perf_counter() - t0
        frames = [f * 1000 for f in app.frame_times]
        absorbed = app.events_seen - seen0
        dropped = sum(s.dropped for s in engine.subs)
        print(f"{rate:>6} ev/s offered | emitted {counter[0] / elapsed:8.0f}/s | absorbed "
              f"{absorbed / elapsed:8.0f}/s | dropped {dropped:6d} | "
              f"frames {len(frames) / elapsed:4.1f}/s"
              f" | frame ms p50 {pct(frames, 50):5.1f} p99 {pct(frames, 99):5.1f} "
              f"max {max(frames, default=0):5.1f} | loop lag p99 {pct(lags, 99) * 1000:5.1f} ms"
              f" | log lines {len(app.explain.lines)} rows {app.history.row_count}"
              f" | RSS +{rss_mb() - rss0:.1f} MB")


async def estop_latency_fake(presses: int) -> list[float]:
    engine = FakeEngine(position=True)
    marks: list[float] = []
    original = engine.emergency_stop

    async def timed() -> None:
        marks.append(time.perf_counter())
        await original()

    engine.emergency_stop = timed  # type: ignore[method-assign]
    app = make_app(engine, bell=False)
    out = []
    async with app.run_test(size=(160, 48)) as pilot:
        while not app.engine_ready:
            await pilot.pause(0.01)
        stop, counter = asyncio.Event(), [0]
        prod = asyncio.create_task(produce(engine, 2000, stop, counter))
        for _ in range(presses):
            await asyncio.sleep(0.05)
            n = len(marks)
            t = time.perf_counter()
            await pilot.press("ctrl+x")
            while len(marks) == n:
                await asyncio.sleep(0)
            out.append((marks[-1] - t) * 1000)
            engine.halted = False
        stop.set()
        await prod
    return out


async def estop_latency_real(presses: int, speed: float) -> tuple[list[float], int]:
    """ctrl+x on the desk over the real demo engine replaying the Binance USDT-M stream
    capture (trades + bookTicker + depth) at ``speed``x; the venue's cancel_all and every
    reduce-only close it is sent are timed."""
    import tempfile

    from tapedesk.engine.assembly import build_replay_engine
    from tapedesk.engine.config import DeskConfig, StrategyConfig
    from tapedesk.engine.events import OrderRole
    from tapedesk.engine.sample_data import SAMPLE_STREAM

    out: list[float] = []
    to_engine: list[float] = []
    flattens = 0
    with tempfile.TemporaryDirectory() as tmp:
        cfg = DeskConfig(strategies=[StrategyConfig(name="book_imbalance"),
                                     StrategyConfig(name="ema_cross")])
        engine = build_replay_engine(SAMPLE_STREAM, data_dir=Path(tmp), config=cfg,
                                     speed=speed, loop=True, resume=False, control=False)
        venue = engine.venue
        marks: list[tuple[str, float]] = []
        cancel_all, submit = venue.cancel_all, venue.submit

        async def timed_cancel_all(symbol=None):
            marks.append(("cancel", time.perf_counter()))
            return await cancel_all(symbol)

        def timed_submit(intent):
            if intent.role is OrderRole.FLATTEN:
                marks.append(("close", time.perf_counter()))
            return submit(intent)

        venue.cancel_all, venue.submit = timed_cancel_all, timed_submit
        estop = engine.emergency_stop

        async def timed_estop():
            marks.append(("engine", time.perf_counter()))
            return await estop()

        engine.emergency_stop = timed_estop
        app = make_app(engine, bell=False)
        async with app.run_test(size=(160, 48)) as pilot:
            while not app.engine_ready:
                await pilot.pause(0.01)
            await asyncio.sleep(1.0)
            feed0, t0 = engine.feed.events_emitted, time.perf_counter()
            for _ in range(presses):
                await asyncio.sleep(0.15)
                had_position = bool(engine.snapshot().positions)
                marks.clear()
                t = time.perf_counter()
                await pilot.press("ctrl+x")
                await estop()  # joins the desk's call: returns when flat
                # The first attempt only: the engine re-sends cancel_all (and closes) on each
                # verify retry until the paper fill lands; those are not the keypress's cost.
                sent, cancels = [], 0
                for k, m in marks:
                    cancels += k == "cancel"
                    if cancels > 1:
                        break
                    if k != "engine":
                        sent.append(m)
                entry = [m for k, m in marks if k == "engine"]
                if entry:
                    to_engine.append((entry[0] - t) * 1000)
                if sent:
                    out.append((max(sent) - t) * 1000)
                    flattens += had_position and any(k == "close" for k, _ in marks)
                await engine.resume_from_halt()
            rate = (engine.feed.events_emitted - feed0) / (time.perf_counter() - t0)
            print(f"   (market events replayed during the presses: {rate:,.0f}/s)")
            print(f"   real engine, press -> engine.emergency_stop() called (the desk's share): "
                  f"n={len(to_engine)} p50 {pct(to_engine, 50):.1f} ms  "
                  f"p99 {pct(to_engine, 99):.1f} ms  max {max(to_engine, default=0):.1f} ms")
    return out, flattens


async def engine_with_ui(seconds: float) -> None:
    import tempfile

    from tests.tui.real_engine import build_demo_engine

    for with_ui in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            engine = build_demo_engine(Path(tmp), speed=0.0, control=False)
            if with_ui:
                app = make_app(engine, bell=False)
                async with app.run_test(size=(160, 48)) as pilot:
                    while not app.engine_ready:
                        await pilot.pause(0.01)
                    n0, t0 = engine.feed.events_emitted, time.perf_counter()
                    await asyncio.sleep(seconds)
                    n1, t1 = engine.feed.events_emitted, time.perf_counter()
                    frames = [f * 1000 for f in app.frame_times]
                    print(f"   with the desk:    {(n1 - n0) / (t1 - t0):9,.0f} bars/s | UI events "
                          f"absorbed {app.events_seen:,} | frames {len(frames) / (t1 - t0):.1f}/s"
                          f" p99 {pct(frames, 99):.1f} ms | dropped "
                          f"{sum(s.dropped for s in engine._subs)}")
            else:
                await engine.start()
                task = asyncio.create_task(engine.run())
                await asyncio.sleep(0.2)
                n0, t0 = engine.feed.events_emitted, time.perf_counter()
                await asyncio.sleep(seconds)
                n1, t1 = engine.feed.events_emitted, time.perf_counter()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await engine.stop()
                print(f"   headless engine:  {(n1 - n0) / (t1 - t0):9,.0f} bars/s")


async def main() -> None:
    ap = argparse.ArgumentParser(description="Tapedesk UI throughput benchmark")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rates", default="2000,5000,20000")
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--stream-speed", type=float, default=8.0,
                    help="replay speed of the Binance stream capture (~260 ev/s real time)")
    args = ap.parse_args()
    print("A. absorption (desk at 160x48, refresh 10/s, subscription bound 2000)")
    for rate in (int(r) for r in args.rates.split(",")):
        await absorption(rate, args.seconds)
    print("\nB. keypress (ctrl+x) -> emergency stop requests, under 2,000 events/s")
    lat, flattens = await estop_latency_real(args.presses, args.stream_speed)
    print("   all (ms):", " ".join(f"{v:.0f}" for v in lat))
    print(f"   real engine (stream capture at {args.stream_speed:g}x), press -> last of "
          f"cancel_all/close sent: n={len(lat)} ({flattens} with a position to close) "
          f"p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms  max {max(lat):.1f} ms  "
          f"mean {statistics.fmean(lat):.1f} ms (target p99 <= 50 ms)")
    lat = await estop_latency_fake(args.presses)
    print(f"   synthetic 2,000 UI events/s (fake engine), press -> emergency_stop called: "
          f"n={len(lat)} p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms  "
          f"max {max(lat):.1f} ms")
    print("\nC. real engine + desk, bundled 1m bars replayed as fast as possible")
    await engine_with_ui(args.seconds)


if __name__ == "__main__":
    asyncio.run(main())
