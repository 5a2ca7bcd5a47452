"""Backtest throughput: bars/s through the whole strategy + risk + paper-venue path, and peak RSS.

Tiles the shipped real 1m series to ~1 M bars. Copies alternate forward and time-mirrored
(bar order reversed, open and close swapped) so prices stay continuous across the seams —
a plain repeat would jump ~$8,000 at every seam and trip every strategy and stop at once.
Timestamps are re-laid one minute apart so time only moves forward.

    python bench/backtest_throughput.py [--bars 1000000] [--strategy ema_cross]
                                        [--param fast=12 --param slow=26] [--fill-at close]

Target (issue 2): >= 500,000 bars/s and <= 300 MiB peak RSS at 1 M bars on one core.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import platform
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.events import Bar
from engine.feeds import load_bars
from engine.sample_data import SAMPLE_BARS_1M


def rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def iter_tiled(base: list[Bar], n: int) -> Iterator[Bar]:
    """``n`` 1m bars from ``base``: forward, mirrored, forward, … with continuous prices.
    A generator, so a backtest that streams its input never holds all ``n`` bars."""
    interval = base[1].open_ts - base[0].open_ts
    t0 = base[0].open_ts
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


def run(args: argparse.Namespace) -> None:
    from engine import backtest
    from engine.config import DeskConfig

    t = time.perf_counter()
    base = load_bars(args.data)
    load_s = time.perf_counter() - t
    bars = tile_bars(base, args.bars)
    del base
    gc.collect()
    rss_before = rss_mib()
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{len(bars):,} bars ({bars[0].open_ts} → {bars[-1].ts}); "
          f"sample loaded in {load_s * 1000:.0f} ms; RSS after tiling {rss_before:.0f} MiB")

    params = dict(p.split("=", 1) for p in args.param)
    config = DeskConfig()
    if args.fill_at:
        config.paper.fill_at = args.fill_at
    sig = inspect.signature(backtest.run_backtest)
    kwargs: dict = {}
    if "fill_at" in sig.parameters and args.fill_at:
        kwargs["fill_at"] = args.fill_at
    if "progress" in sig.parameters:
        kwargs["progress"] = False
    strategies = [(args.strategy, params)]
    from engine.strategy import create

    strategies = [create(args.strategy, **params)]
    t = time.perf_counter()
    result = backtest.run_backtest(bars, strategies, config, **kwargs)
    if inspect.isawaitable(result):
        import asyncio

        result = asyncio.run(result)
    elapsed = time.perf_counter() - t
    peak = rss_mib()
    trades = getattr(result, "trades", None)
    print(f"backtest: {len(bars):,} bars in {elapsed:.2f} s = {len(bars) / elapsed:,.0f} bars/s "
          f"(strategy {args.strategy}, {len(trades) if trades is not None else '?'} trades)")
    print(f"peak RSS: {peak:.0f} MiB (bars alone: {rss_before:.0f} MiB)")
    print(f"target: >= 500,000 bars/s -> {'MET' if len(bars) / elapsed >= 500_000 else 'NOT MET'}; "
          f"<= 300 MiB -> {'MET' if peak <= 300 else 'NOT MET'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=SAMPLE_BARS_1M)
    ap.add_argument("--strategy", default="ema_cross")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--fill-at", default=None, choices=["close", "next-open", "quote"])
    run(ap.parse_args())


if __name__ == "__main__":
    main()
