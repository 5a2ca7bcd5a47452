"""Tick → decision latency on the real USDT-M stream capture, through the real engine loop.

The capture (trades, bookTickers, depth) is replayed at full speed by ``ReplayFeed`` into an
``Engine`` with a ``PaperVenue`` and a quote-driven strategy. For every tick that produces a
decision (risk accepted or refused the strategy's signal) the script measures the wall time
from the moment the engine starts processing that tick (``Engine.process`` entered) to the
moment the decision is explained (after strategy + risk vet, before its words are made),
with ``perf_counter_ns``.
Feed parsing (JSON → event) is measured separately, per message, because a live feed pays it
too: the sum is the desk's own tick → decision time (network latency excluded).

    python bench/latency_tick_to_decision.py [--file CAPTURE] [--strategy bench_every_nth_quote]
                                             [--every 50]

The default strategy, ``bench_every_nth_quote`` (defined here, bench only), signals on every
N-th bookTicker with a 0.25 % stop, so risk runs its whole rulebook each time (accepting until
the day's trade limit, then refusing: both are decisions). ``--strategy book_imbalance`` uses
the real quote strategy instead (it decides far less often). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import ExplanationKind, Quote, Side, Signal
from tapedesk.engine.feeds import ReplayFeed, iter_events
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.sample_data import SAMPLE_STREAM
from tapedesk.engine.strategy import Strategy, create, register

TAKEN, REFUSED = ExplanationKind.TAKEN, ExplanationKind.REFUSED


@register("bench_every_nth_quote")
class EveryNthQuote(Strategy):
    """Bench only: a long signal on every N-th quote, stop 0.25 % below, target 0.5 % above."""

    PARAMS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "every": (int, 50, "signal on every N-th quote"),
    }

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: Any) -> None:
        super().__init__(symbols, **params)
        self._n = 0

    def on_quote(self, quote: Quote) -> Signal | None:
        self._n += 1
        if self._n % self.params["every"]:
            return None
        entry = quote.ask
        return Signal(self.name, quote.symbol, Side.LONG, quote.ts, entry,
                      stop_loss=entry * (1 - 0.0025), take_profit=entry * 1.005,
                      reasons=[f"quote #{self._n}"])


def pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def report(name: str, samples_ns: list[int]) -> None:
    us = sorted(s / 1000 for s in samples_ns)
    if not us:
        print(f"{name}: no samples")
        return
    print(f"{name}: n={len(us):,}  p50={pct(us, 50):.1f} µs  p90={pct(us, 90):.1f} µs  "
          f"p99={pct(us, 99):.1f} µs  max={us[-1]:.1f} µs")


def clock_decisions(engine: Engine) -> tuple[list[int], list[int]]:
    """Hook ``engine`` so each decision's tick → decision time (ns) lands in the first list;
    the second counts the accepted ones. The clock starts as ``Engine.process`` is entered
    and stops where the decision is explained (refused or taken), before its words are
    made: every decision passes there, journaled or not (a journal row is queued only when
    a journal is open)."""
    latencies: list[int] = []
    started, accepted = [0], [0]
    process, explain_by = engine.process, engine._explain_by

    def timed_process(ev: Any) -> None:
        started[0] = time.perf_counter_ns()
        process(ev)

    def timed_explain_by(kind: Any, *rest: Any) -> None:
        if kind is TAKEN or (kind is REFUSED and rest[4] != "strategy"):  # not a skip note
            latencies.append(time.perf_counter_ns() - started[0])
            accepted[0] += kind is TAKEN
        explain_by(kind, *rest)

    engine.process = timed_process  # type: ignore[method-assign]
    engine._explain_by = timed_explain_by  # type: ignore[method-assign]
    return latencies, accepted


async def run(args: argparse.Namespace) -> None:
    config = DeskConfig()
    venue = PaperVenue(config.paper.initial_balance)
    params = dict(p.split("=", 1) for p in args.param)
    if args.strategy == "bench_every_nth_quote":
        params.setdefault("every", str(args.every))
    strategy = create(args.strategy, **params)
    feed = ReplayFeed(args.file, speed=0)
    engine = Engine(config=config, venue=venue, strategies=[strategy], feed=feed, mode="paper")

    latencies, accepted = clock_decisions(engine)

    t = time.perf_counter()
    await engine.run()
    elapsed = time.perf_counter() - t
    await engine.stop()
    n_events = feed.events_emitted
    print(f"python {platform.python_version()} on {platform.machine()}; {args.file.name}: "
          f"{n_events:,} events through the engine in {elapsed:.2f} s "
          f"({n_events / elapsed:,.0f} events/s incl. parsing), strategy {args.strategy}, "
          f"{len(engine.trades)} round trips")
    print(f"decisions: {len(latencies):,} ({accepted[0]:,} accepted, "
          f"{len(latencies) - accepted[0]:,} refused)")
    report("tick → decision (engine: strategy + risk)", latencies)

    # Parse cost per message, measured on its own (what a live feed adds before the engine).
    parse: list[int] = []
    it = iter_events(args.file)
    while True:
        t0 = time.perf_counter_ns()
        try:
            next(it)
        except StopIteration:
            break
        parse.append(time.perf_counter_ns() - t0)
    report("message → event (JSON parse, per message)", parse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=SAMPLE_STREAM)
    ap.add_argument("--strategy", default="bench_every_nth_quote")
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
