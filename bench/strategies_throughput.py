"""Bars per second per strategy, ``on_bar`` alone, on ~1 M real 1m bars.

The real month of BTC 1m bars (45,031) is tiled 23 times with shifted timestamps to get
~1.04 M bars; each copy restarts at the month's first price, so there is one jump per copy
(harmless for throughput). book_imbalance is quote-driven and is measured in quotes/s on
the real USDM BTCUSDT capture tiled the same way. Target: >= 200,000 events/s each.

    python bench/strategies_throughput.py [--bars 1000000] [--strategy NAME ...]
        [--param liquidity_sweep.timeframe=15m ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tapedesk.engine.events import Bar, Depth, Quote
from tapedesk.engine.research.selection import parse_params
from tapedesk.engine.strategy import available, create

from tests.strategies import realdata

TARGET = 200_000


def tiled_bars(n: int) -> list[Bar]:
    base = realdata.load_1m()
    span = base[-1].open_ts - base[0].open_ts + 60_000
    out: list[Bar] = []
    k = 0
    while len(out) < n:
        shift = k * span
        out.extend(
            Bar(b.symbol, b.open_ts + shift, b.ts + shift, b.open, b.high, b.low, b.close, b.volume)
            for b in base
        )
        k += 1
    return out[:n]


def tiled_stream(n_quotes: int) -> list[Quote | Depth]:
    base = [e for e in realdata.load_stream(realdata.USDM_BTC) if isinstance(e, Quote | Depth)]
    span = base[-1].ts - base[0].ts + 1
    out: list[Quote | Depth] = []
    k = 0
    quotes = 0
    while quotes < n_quotes:
        for e in base:
            if isinstance(e, Quote):
                out.append(Quote(e.symbol, e.ts + k * span, e.bid, e.bid_qty, e.ask, e.ask_qty))
                quotes += 1
            else:
                out.append(Depth(e.symbol, e.ts + k * span, e.bids, e.asks, e.is_snapshot))
        k += 1
    return out


def bench_bars(
    name: str, bars: list[Bar], repeat: int, params: dict[str, str]
) -> tuple[float, int]:
    best = float("inf")
    signals = 0
    for _ in range(repeat):
        s = create(name, **params)
        on_bar = s.on_bar
        t0 = time.perf_counter()
        signals = 0
        for b in bars:
            if on_bar(b) is not None:
                signals += 1
        best = min(best, time.perf_counter() - t0)
    return len(bars) / best, signals


def bench_quotes(events: list[Quote | Depth], repeat: int) -> tuple[float, float, int]:
    best = float("inf")
    signals = 0
    quotes = sum(1 for e in events if isinstance(e, Quote))
    for _ in range(repeat):
        s = create("book_imbalance")
        on_quote = s.on_quote
        on_depth = s.on_depth
        t0 = time.perf_counter()
        signals = 0
        for e in events:
            if e.kind == 2:
                if on_quote(e) is not None:
                    signals += 1
            else:
                on_depth(e)
        best = min(best, time.perf_counter() - t0)
    return quotes / best, len(events) / best, signals


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2, help="best of N runs")
    ap.add_argument("--strategy", action="append", help="limit to these (default: all)")
    ap.add_argument("--param", action="append", default=[], help="strategy.name=value")
    args = ap.parse_args()
    names = args.strategy or sorted(available())
    params = parse_params(args.param, names)
    print(f"python {sys.version.split()[0]}; best of {args.repeat}; target {TARGET:,}/s")
    bars = tiled_bars(args.bars)
    worst = float("inf")
    for name in names:
        if name == "book_imbalance":
            events = tiled_stream(args.bars)
            qps, eps, sig = bench_quotes(events, args.repeat)
            flag = "ok" if qps >= TARGET else "BELOW TARGET"
            print(
                f"{name:<18} {qps:>12,.0f} quotes/s ({eps:,.0f} quote+depth events/s, "
                f"{sig} signals)  {flag}"
            )
            worst = min(worst, qps)
            continue
        bps, sig = bench_bars(name, bars, args.repeat, params[name])
        flag = "ok" if bps >= TARGET else "BELOW TARGET"
        label = name + "".join(f" {k}={v}" for k, v in params[name].items())
        print(f"{label:<18} {bps:>12,.0f} bars/s   ({len(bars):,} bars, {sig:,} signals)  {flag}")
        worst = min(worst, bps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
