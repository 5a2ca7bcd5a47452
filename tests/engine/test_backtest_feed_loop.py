"""run_backtest's event loop: every event processed and counted, with
or without a progress callback, from a list or a one-pass iterator."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.backtest import PROGRESS_EVERY, run_backtest
from tapedesk.engine.events import MarkPrice
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import create


def _run(events, progress=None):
    return run_backtest(events, [create("ema_cross")], progress=progress, no_risk=True,
                        fixed_qty=Decimal("0.01"))


def test_every_event_counted_whatever_the_input() -> None:
    bars = load_bars(SAMPLE_BARS_1M)
    n = PROGRESS_EVERY * 2 + 7  # two full progress steps and a partial one
    bars = bars[:n]
    calls: list[int] = []
    ref = _run(bars)
    for events, progress in ((iter(bars), None), (bars, calls.append), (iter(bars), None)):
        got = _run(events, progress)
        assert got.events == n
        assert got.metrics.total_bars == n  # the engine saw each bar once
        assert got.to_json() == ref.to_json()
    assert ref.events == n and ref.trades
    assert calls[:2] == [PROGRESS_EVERY, 2 * PROGRESS_EVERY] and calls[-1] == n
    assert calls == sorted(calls)


def test_no_events() -> None:
    calls: list[int] = []
    assert _run([]).events == 0
    assert _run(iter([]), calls.append).events == 0
    assert calls == [0]


def test_events_that_are_not_bars_are_counted_too() -> None:
    """The engine counts the events (bars_seen + other_events_seen): a mark-price event
    between bars is an event the run processed, though not a bar."""
    bars = load_bars(SAMPLE_BARS_1M)[:PROGRESS_EVERY + 50]
    events = []
    for i, b in enumerate(bars):
        events.append(b)
        if i % 3 == 0:
            events.append(MarkPrice(b.symbol, b.ts, b.close, 0.0001, b.ts + 3_600_000))
    calls: list[int] = []
    got = _run(iter(events), calls.append)
    assert got.events == len(events) and got.metrics.total_bars == len(bars)
    assert PROGRESS_EVERY < len(events) < 2 * PROGRESS_EVERY
    assert calls == [PROGRESS_EVERY, len(events)]
