"""Key bindings the real replay engine cannot reach on cue, driven against FakeEngine.

FakeEngine is used here because these need a position open at a chosen moment (quit
dialog), or an engine that fails (errors shown, never a crash). Everything else in
tests/tui runs the real engine on the bundled replay data.
"""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import Input

from tests.tui.fake_engine import FakeEngine
from tests.tui.helpers import ready, screen_text, settle
from tui.app import make_app
from tui.screens import ConfirmScreen, HelpScreen


async def test_quit_with_open_position_asks_and_says_what_protects_it():
    eng = FakeEngine(position=True)
    app = make_app(eng)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(app)
        assert "PAPER position" in text and "ctrl+x" in text
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert not eng.stopped and app.is_running
        await pilot.press("q")
        await settle(pilot)
        await pilot.press("y")
        await pilot.pause()
    assert eng.stopped, "quitting must stop the engine (journal flushed)"


async def test_quit_when_flat_stops_the_engine_without_asking():
    eng = FakeEngine()
    app = make_app(eng)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert eng.stopped and eng.calls.count("stop") == 1


async def test_emergency_stop_fires_while_command_palette_input_has_focus():
    eng = FakeEngine(position=True)
    app = make_app(eng)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        assert isinstance(app.focused, Input)
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert "emergency_stop" in eng.calls
        assert app.last_snapshot.halted and not app.last_snapshot.positions


async def test_command_palette_lists_every_desk_action():
    eng = FakeEngine()
    app = make_app(eng)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
    for needle in ("Emergency stop", "Pause", "Resume from halt", "Strategies", "chart",
                   "log filter", "theme", "keys", "Toggle strategy 1: ema_cross",
                   "Toggle strategy 2: vwap_revert"):
        assert any(needle.lower() in t.lower() for t in titles), needle


async def test_engine_failing_to_start_is_shown_not_crashed():
    eng = FakeEngine(fail_start=True)
    app = make_app(eng)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.pause(0.1)
        await settle(pilot)
        assert app.is_running
        assert "journal is locked" in screen_text(app)


async def test_a_bad_theme_file_is_reported_and_the_default_kept(tmp_path: Path):
    (tmp_path / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    (tmp_path / "typo.toml").write_text('name = "typo"\nprimary = "#000000"\nforegrund = "#fff"\n')
    eng = FakeEngine()
    app = make_app(eng, themes_dir=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await ready(pilot)
        text = screen_text(app)
        assert "broken.toml" in text and "typo.toml" in text
        assert app.theme == "tapedesk-dark"
        assert "broken" not in app.available_themes


async def test_help_lists_every_key_and_ctrl_x_still_works_under_it():
    eng = FakeEngine()
    app = make_app(eng)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for key in ("ctrl+x", "r", "p", "1–9", "s", "c", "f", "t", "?", "q", "ctrl+p"):
            assert f" {key} " in text, key
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert "emergency_stop" in eng.calls


async def test_events_are_drained_per_frame_not_per_event():
    eng = FakeEngine()
    app = make_app(eng, log_lines=50)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        from engine.events import Explanation, ExplanationKind
        frames = app.ticks
        for i in range(1500):
            eng.emit(Explanation(i, ExplanationKind.REFUSED, f"refused #{i}", rule="stale"))
        app.refresh_view()
        assert app.ticks == frames + 1
        assert app.events_seen >= 1500
        log = app.explain
        assert len(log.lines) <= 50
        assert len(log.history) <= log.history.maxlen


async def test_d_leaves_for_the_demo_with_the_demo_exit_code():
    from tui.app import DEMO_EXIT_CODE

    eng = FakeEngine()
    app = make_app(eng, notice="No network: live market data unavailable — press d for the demo")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert "press d for the demo" in screen_text(app)
        await pilot.press("d")
        await pilot.pause()
    assert eng.stopped and app.return_code == DEMO_EXIT_CODE


async def test_engine_errors_become_one_notification_per_frame_and_log_lines():
    from engine.events import Explanation, ExplanationKind

    eng = FakeEngine()
    app = make_app(eng)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await ready(pilot)
        before = len(app._notifications)
        for i in range(3):
            eng.emit(Explanation(i, ExplanationKind.ERROR, f"venue said no #{i}"))
        await settle(pilot)
        assert len(app._notifications) == before + 1
        assert "venue said no #2 (+2 more in the log)" in screen_text(app)
        assert sum("venue said no" in line.text for line in app.explain.lines) == 3
