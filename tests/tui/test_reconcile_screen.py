"""A live desk that finds the exchange and its journal disagreeing shows each difference and
does not trade until each is answered; ctrl+x still works meanwhile."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.journal import Journal
from tapedesk.engine.strategy import create
from tapedesk.tui.app import make_app
from tapedesk.tui.reconcile_screen import ReconcileScreen

from tests.engine.test_live_reconciliation import _venue_holding_a_position


def _live_engine(tmp_path: Path):
    venue = _venue_holding_a_position()
    eng = Engine(
        config=DeskConfig(),
        venue=venue,
        strategies=[create("ema_cross")],
        journal=Journal(tmp_path / "live.db"),
        mode="live",
    )
    return eng, venue


async def _wait_for_screen(pilot, app) -> None:
    """Until the screen is up and lists the differences (it is pushed from a worker)."""
    for _ in range(100):
        if isinstance(app.screen, ReconcileScreen):
            found = app.screen.query("OptionList")
            if found and found.first().option_count:
                return
        await pilot.pause(0.05)
    raise AssertionError("the reconciliation screen never opened")


async def test_unknown_position_is_shown_and_adopted_with_a(tmp_path: Path) -> None:
    eng, _venue = _live_engine(tmp_path)
    app = make_app(eng, demo=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait_for_screen(pilot, app)
        text = str(app.screen.query_one("OptionList").get_option_at_index(0).prompt)
        assert "BTCUSDT" in text and "[pending]" in text
        await pilot.press("a")
        for _ in range(100):
            if not isinstance(app.screen, ReconcileScreen):
                break
            await pilot.pause(0.05)
        assert not isinstance(app.screen, ReconcileScreen)
        assert not eng.reconciliation.blocked
        assert eng.book.positions["BTCUSDT"].qty == Decimal("0.100")


async def test_flatten_with_f_closes_the_position_on_the_exchange(tmp_path: Path) -> None:
    eng, venue = _live_engine(tmp_path)
    app = make_app(eng, demo=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait_for_screen(pilot, app)
        await pilot.press("f")
        for _ in range(100):
            if not eng.reconciliation.blocked:
                break
            await pilot.pause(0.05)
        assert await venue.fetch_positions() == {}


async def test_emergency_stop_works_while_the_screen_is_open(tmp_path: Path) -> None:
    eng, venue = _live_engine(tmp_path)
    app = make_app(eng, demo=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait_for_screen(pilot, app)
        await pilot.press("ctrl+x")
        for _ in range(100):
            if eng.halted and not await venue.fetch_positions():
                break
            await pilot.pause(0.05)
        assert eng.halted
        assert await venue.fetch_positions() == {}
