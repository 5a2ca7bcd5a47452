"""Every desk binding, driven with the real Pilot."""

from __future__ import annotations

import asyncio

from tapedesk.tui.app import DEMO_EXIT_CODE, make_app
from tapedesk.tui.screens import ChartScreen, ConfirmScreen, HelpScreen
from tapedesk.tui.strategy_screen import StrategyScreen
from textual.command import CommandPalette
from textual.widgets import Input

from tests.tui.helpers import feed_gate, hold_open_trade, ready, screen_text, settle
from tests.tui.real_engine import live_like_engine


async def test_p_pauses_then_resumes_new_entries(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert app.last_snapshot.paused
        assert "PAUSED" in screen_text(app)
        await pilot.press("p")
        await settle(pilot)
        assert not app.last_snapshot.paused


async def test_number_keys_toggle_strategy_n(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        before = {s.index: s.enabled for s in app.last_snapshot.strategies}
        await pilot.press("1")
        await settle(pilot)
        after = {s.index: s.enabled for s in app.last_snapshot.strategies}
        assert after[1] is not before[1]
        assert {k: v for k, v in after.items() if k != 1} == {
            k: v for k, v in before.items() if k != 1}
        await pilot.press("1")
        await settle(pilot)
        assert app.last_snapshot.strategies[0].enabled is before[1]


async def test_a_number_with_no_strategy_changes_nothing(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        before = app.last_snapshot.strategies
        await pilot.press("9")
        await settle(pilot)
        assert [s.enabled for s in app.last_snapshot.strategies] == [s.enabled for s in before]


async def test_s_opens_the_strategy_screen_where_numbers_still_toggle(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, StrategyScreen)
        name = app.last_snapshot.strategies[0].name
        assert name in screen_text(app)
        was = app.last_snapshot.strategies[0].enabled
        await pilot.press("1")
        await settle(pilot)
        assert app.last_snapshot.strategies[0].enabled is not was
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, StrategyScreen)


async def test_ctrl_x_halts_and_flattens_from_the_main_screen(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+x")
        await settle(pilot)
        snap = app.last_snapshot
        assert snap.halted and not snap.positions
        text = screen_text(app)
        assert "HALTED" in text and "EMERGENCY STOP" in text


async def test_ctrl_x_works_while_a_modal_is_open(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ChartScreen)
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert app.last_snapshot.halted


async def test_r_resumes_from_halt_only_after_confirmation(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+x")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert app.last_snapshot.halted
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert not app.last_snapshot.halted


async def test_r_when_not_halted_opens_nothing(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)


async def test_t_cycles_desk_themes_and_remembers_the_choice(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        assert app.theme == "tapedesk-dark"
        seen = [app.theme]
        for _ in range(len(app.desk_themes)):
            await pilot.press("t")
            await settle(pilot)
            seen.append(app.theme)
        assert set(seen) == set(app.desk_themes) and seen[-1] == "tapedesk-dark"
        await pilot.press("t")
        await settle(pilot)
        chosen = app.theme
        assert await desk_engine.get_setting("theme") == chosen


async def test_saved_theme_is_applied_at_start(_temp_home):
    first = live_like_engine(_temp_home)
    await first.start()
    await first.set_setting("theme", "tapedesk-light")
    await first.set_setting("theme.config", "tapedesk-dark")  # [ui] theme when it was picked
    await first.stop()
    app = make_app(live_like_engine(_temp_home))
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        assert app.theme == "tapedesk-light"


async def test_c_opens_the_equity_and_drawdown_chart(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ChartScreen)
        assert "Drawdown" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ChartScreen)


async def test_f_cycles_the_log_filter(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        names = []
        for _ in range(4):
            await pilot.press("f")
            await settle(pilot)
            names.append(app.explain.filter_name)
        assert names == ["taken", "refused", "errors", "all"]


async def test_question_mark_opens_help(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)


async def test_q_when_flat_quits_and_stops_the_engine(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+x")  # be flat for sure
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.engine_stopped


async def _until(pilot, predicate, limit_s: float = 20.0) -> None:
    """Wait for the looping replay to reach a state (bounded; not a timing assertion)."""
    async with asyncio.timeout(limit_s):
        while not predicate():
            await pilot.pause(0.05)


async def test_quit_with_open_position_asks_and_says_what_protects_it(desk_engine):
    gate = feed_gate(desk_engine)  # the trade stays open while the dialog is read
    app = make_app(desk_engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await hold_open_trade(pilot, desk_engine, gate)
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(app)
        assert "PAPER position" in text and "ctrl+x" in text
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.is_running and not app.engine_stopped
        await pilot.press("q")
        await settle(pilot)
        await pilot.press("y")
        await pilot.pause()
    assert app.engine_stopped, "quitting must stop the engine (journal flushed)"


async def test_emergency_stop_fires_while_command_palette_input_has_focus(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        assert isinstance(app.focused, Input)
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert app.last_snapshot.halted and not app.last_snapshot.positions


async def test_command_palette_lists_every_desk_action(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
    names = [s.name for s in desk_engine.strategies]
    for needle in ("Emergency stop", "Pause", "Resume from halt", "Strategies", "chart",
                   "log filter", "theme", "keys", *(f"Toggle strategy {i}: {n}" for i, n in
                                                    enumerate(names, start=1))):
        assert any(needle.lower() in t.lower() for t in titles), needle


async def test_a_bad_theme_file_is_reported_and_the_default_kept(desk_engine, tmp_path):
    (tmp_path / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    (tmp_path / "typo.toml").write_text('name = "typo"\nprimary = "#000000"\nforegrund = "#fff"\n')
    app = make_app(desk_engine, themes_dir=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await ready(pilot)
        text = screen_text(app)
        assert "broken.toml" in text and "typo.toml" in text
        assert app.theme == "tapedesk-dark"
        assert "broken" not in app.available_themes


async def test_help_lists_every_key_and_ctrl_x_still_works_under_it(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        # Every binding is on it: test_keymap_theme_strategies.test_help_lists_every_binding...
        assert "EMERGENCY STOP" in screen_text(app)
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert app.last_snapshot.halted


async def test_d_leaves_for_the_demo_with_the_demo_exit_code(desk_engine):
    app = make_app(desk_engine, demo=False,
                   notice="No network: live market data unavailable — press d for the demo")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+x")  # flat, so leaving asks nothing
        await settle(pilot)
        assert "press d for the demo" in screen_text(app)
        await pilot.press("d")
        await pilot.pause()
    assert app.engine_stopped and app.return_code == DEMO_EXIT_CODE
