"""Dialog defaults are the safe choice, and dialogs follow the desk while they are open.

Real engine (the looping demo replay) throughout: positions open and close by themselves,
so the quit dialog can be watched going stale and being corrected.
"""

from __future__ import annotations

import asyncio

from tapedesk.tui.app import make_app
from tapedesk.tui.screens import ConfirmScreen

from tests.tui.helpers import feed_gate, hold_open_trade, ready, screen_text, settle


async def _until(pilot, predicate, limit_s: float = 30.0) -> None:
    """Wait for the looping replay to reach a state (bounded; not a timing assertion)."""
    async with asyncio.timeout(limit_s):
        while not predicate():
            await pilot.pause(0.02)


async def test_enter_in_the_resume_dialog_stays_halted(desk_engine):
    app = make_app(desk_engine, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert app.last_snapshot.halted
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.focused is not None and app.screen.focused.id == "no"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.last_snapshot.halted and desk_engine.halted
        assert await desk_engine.get_setting("halted") == "1"


async def test_enter_in_the_quit_dialog_with_a_position_stays(desk_engine):
    gate = feed_gate(desk_engine)
    app = make_app(desk_engine, bell=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await hold_open_trade(pilot, desk_engine, gate)
        assert app.last_snapshot.positions
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.focused is not None and app.screen.focused.id == "no"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.is_running and not app.engine_stopped


async def test_the_quit_dialog_follows_the_position_closing(desk_engine):
    gate = feed_gate(desk_engine)
    app = make_app(desk_engine, bell=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await hold_open_trade(pilot, desk_engine, gate)
        # No new entries from now on (as `tapedesk pause` does); the open trade is still
        # managed, so once it closes the desk stays flat.
        await desk_engine.pause()
        await settle(pilot)
        pos = app.last_snapshot.position
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        opened = f"Open: {pos.side.value} {pos.symbol}"
        assert opened in screen_text(app)
        # Market data flows again under the dialog: the trade's stop or target closes it.
        gate.set()
        await _until(pilot, lambda: not app.last_snapshot.positions, limit_s=60)
        await settle(pilot)
        text = screen_text(app)
        assert opened not in text and "flat now" in text
        await pilot.press("n")
        await settle(pilot)
        assert app.is_running and not app.engine_stopped


async def test_the_resume_dialog_follows_a_resume_made_elsewhere(desk_engine):
    app = make_app(desk_engine, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+x")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert "Resume from HALT?" in screen_text(app)
        await desk_engine.resume_from_halt()  # as `tapedesk resume` does over the socket
        await settle(pilot)
        assert "no longer halted" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert not app.last_snapshot.halted
