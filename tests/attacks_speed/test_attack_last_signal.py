"""The strategy screen's "last signal" used to be worded when the signal was decided; the
decide-path branch keeps the Signal and words it when the screen asks. A Signal is a plain
mutable dataclass and a user strategy (a plugin, "never trusted blindly") may keep one and
re-arm it on every bar, returning it only now and then. Attack: the screen must still show
the signal that was *decided* — the one the explanation log and the journal show — not
whatever the strategy wrote into its object afterwards."""

from __future__ import annotations

import re
from typing import Any

from tapedesk.engine.backtest import _start_sync, build_backtest_engine
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.events import Bar, ExplanationKind, Side, Signal, SignalKind
from tapedesk.engine.strategy import Strategy

T0 = 1_704_067_200_000


class _Rearming(Strategy):
    """Keeps one Signal and updates it on every bar; hands it out on bar 3 only."""

    name = "rearming"

    def on_start(self, ctx: Any) -> None:
        super().on_start(ctx)
        self._sig = Signal(self.name, "BTCUSDT", Side.LONG, 0, 0.0)
        self._n = 0

    def on_bar(self, bar: Bar) -> Signal | None:
        self._n += 1
        sig = self._sig
        sig.ts, sig.entry = bar.ts, bar.close
        sig.stop_loss, sig.take_profit = bar.close * 0.998, bar.close * 1.004
        sig.kind = SignalKind.ENTRY if self._n <= 3 else SignalKind.EXIT
        return sig if self._n == 3 else None


def test_the_strategy_screen_shows_the_signal_that_was_decided():
    engine, _labels = build_backtest_engine([_Rearming()], DeskConfig())
    _start_sync(engine)
    for i in range(8):
        px = 40_000.0 + 100 * i
        open_ts = T0 + i * 60_000
        engine.process(Bar("BTCUSDT", open_ts, open_ts + 59_999, px, px + 5, px - 5, px, 1.0))
    engine.word_explanations()
    taken = [e.text for e in engine.recent if e.kind is ExplanationKind.TAKEN]
    assert taken and "@ ~40,200.0" in taken[0]  # bar 3's close was decided
    shown = engine.roster.statuses()[0].last_signal
    assert shown == "entry long @ 40,200.0", shown
    assert re.search(r"@ ~([\d,.]+)", taken[0]).group(1) in shown  # the log agrees
