"""Engine.process tests ``type(ev) is Bar`` before ``ev.kind``: a Bar subclass (a plugin's
or a feed's own bar type) must still be counted and traded as a bar, and other event kinds
(quotes, mark prices between the bars, as a live stream interleaves them) must not be.
The same run with plain Bars, with subclassed bars, and with other events between them
gives the same trades, bars counted and JSON."""

from __future__ import annotations

import json
from decimal import Decimal

from tapedesk.engine.backtest import run_backtest
from tapedesk.engine.events import Bar, MarkPrice, Quote
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import create


class FeedBar(Bar):
    """A feed's own bar type, with a slot of its own."""

    __slots__ = ("source",)

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.source = "ws"


class LooseBar(Bar):  # no __slots__: has a __dict__
    pass


def _run(events: list) -> tuple[int, str]:
    res = run_backtest(events, [create("ema_cross")], no_risk=True,
                       fixed_qty=Decimal("0.01"), fill_at="close")
    doc = res.to_json()
    doc.pop("run", None)
    return res.metrics.total_bars, json.dumps(doc, default=str, sort_keys=True)


def _args(b: Bar) -> tuple:
    return (b.symbol, b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume)


def test_bar_subclasses_count_and_trade_as_bars_other_kinds_do_not() -> None:
    bars = load_bars(SAMPLE_BARS_1M)[:3000]
    plain_bars, plain = _run(bars)
    assert plain_bars == 3000 and '"side"' in plain  # it trades
    for kind in (FeedBar, LooseBar):
        got_bars, got = _run([kind(*_args(b)) for b in bars])
        assert (got_bars, got) == (plain_bars, plain), kind.__name__
    mixed = []
    for b in bars:
        # a quote and a mark price at the bar's close time, before it (as a stream has them)
        mixed.append(Quote(b.symbol, b.ts, b.close, 1.0, b.close, 1.0))
        mixed.append(MarkPrice(b.symbol, b.ts, b.close, 0.0, b.ts + 8 * 3_600_000))
        mixed.append(b)
    mixed_bars, _ = _run(mixed)
    assert mixed_bars == 3000

