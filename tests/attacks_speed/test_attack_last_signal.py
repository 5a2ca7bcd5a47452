"""The strategy screen's "last signal" is now worded when shown, from the Signal object the
strategy returned. A Signal is a mutable dataclass, and a plugin may keep the one it
returned (a template it updates every bar, or a pending idea it refines): the screen
must still show the signal as it was when the desk took it, as it did when the line was
written at signal time."""

from __future__ import annotations

from tapedesk.engine.backtest import _start_sync, build_backtest_engine
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.events import Side, Signal, SignalKind
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import Strategy


class KeepsItsSignal(Strategy):
    """Signals once, on the third bar, then keeps updating the same object."""

    name = "keeps_its_signal"
    PARAMS = {}  # noqa: RUF012

    def __init__(self, symbols=None, **params) -> None:
        super().__init__(symbols, **params)
        self.n = 0
        self.sig: Signal | None = None

    def on_bar(self, bar):
        self.n += 1
        if self.n == 3:
            self.sig = Signal(self.name, bar.symbol, Side.LONG, bar.ts, bar.close,
                              bar.close * 0.99, bar.close * 1.02, reasons=["idea"])
            return self.sig
        if self.sig is None:
            return None
        self.sig.entry = bar.close * 2  # refining its idea, not signalling
        self.sig.side = Side.SHORT
        self.sig.kind = SignalKind.EXIT
        return None


def test_the_last_signal_shown_is_the_one_taken_not_the_object_now() -> None:
    bars = load_bars(SAMPLE_BARS_1M)[:10]
    strat = KeepsItsSignal()
    engine, _ = build_backtest_engine([strat], DeskConfig())
    _start_sync(engine)
    shown = ""
    for k, bar in enumerate(bars):
        if k == 3:
            shown = engine.roster.statuses()[0].last_signal  # right after the signal
        engine.process(bar)
    assert shown.startswith("entry long @ ")
    assert engine.roster.statuses()[0].last_signal == shown
