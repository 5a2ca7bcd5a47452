"""The strategy screen's "last signal" used to be worded when the signal was decided; the
decide-path branch keeps the Signal and words it when the screen asks. A Signal is a plain
mutable dataclass and a user strategy (a plugin, "never trusted blindly") may keep one and
re-arm it on every bar, returning it only now and then. Attack: the screen must still show
the signal that was *decided* — the one the explanation log and the journal show — not
whatever the strategy wrote into its object afterwards."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tapedesk.engine.backtest import _start_sync, build_backtest_engine
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import Bar, ExplanationKind, Side, Signal, SignalKind
from tapedesk.engine.strategy import Strategy

from tests.tui.helpers import replayed, settle

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


async def test_the_desk_strategy_screen_shows_the_signal_that_was_decided(tmp_path: Path,
                                                                         monkeypatch):
    """The same, as the trader sees it: a paper desk (real Engine, PaperVenue, SQLite
    journal, replay feed) in the real Textual app, strategy screen opened with ``s``."""
    from tapedesk.engine.clock import EventClock
    from tapedesk.engine.feeds.replay import ReplayFeed
    from tapedesk.engine.journal import Journal, db_path
    from tapedesk.engine.paper_venue import PaperVenue
    from tapedesk.tui.app import make_app
    from tapedesk.tui.strategy_screen import StrategyScreen
    from textual.widgets import DataTable

    monkeypatch.setenv("TAPEDESK_HOME", str(tmp_path))
    rows = ["timestamp,open,high,low,close,volume"]
    for i in range(8):
        px = 40_000.0 + 100 * i
        rows.append(f"2024-01-01 00:{i:02d}:00,{px},{px + 5},{px - 5},{px},1")
    data = tmp_path / "bars_1m.csv"
    data.write_text("\n".join(rows) + "\n")
    engine = Engine(config=DeskConfig(), venue=PaperVenue(), strategies=[_Rearming()],
                    feed=ReplayFeed(data, speed=0.0, loop=False, symbol="BTCUSDT"),
                    journal=Journal(db_path(tmp_path, "paper")), clock=EventClock(),
                    mode="paper")
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await replayed(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, StrategyScreen)
        row = [str(c) for c in app.screen.query_one(DataTable).get_row("rearming")]
    assert row[3] == "entry long @ 40,200.0", row
