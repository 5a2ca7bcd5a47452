"""What the real engine cannot produce on cue, driven against FakeEngine (same API).

FakeEngine is used only here: an engine that fails to start, a burst of 1,500 events
landing in one frame, and engine errors arriving together. Everything else in tests/tui
runs the real engine on the bundled replay data.
"""

from __future__ import annotations

from tapedesk.tui.app import make_app

from tests.tui.fake_engine import FakeEngine
from tests.tui.helpers import ready, screen_text, settle


async def test_engine_failing_to_start_is_shown_not_crashed():
    eng = FakeEngine(fail_start=True)
    app = make_app(eng)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.pause(0.1)
        await settle(pilot)
        assert app.is_running
        assert "journal is locked" in screen_text(app)


async def test_events_are_drained_per_frame_not_per_event():
    eng = FakeEngine()
    app = make_app(eng, log_lines=50)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        from tapedesk.engine.events import Explanation, ExplanationKind
        frames = app.ticks
        for i in range(1500):
            eng.emit(Explanation(i, ExplanationKind.REFUSED, f"refused #{i}", rule="stale"))
        app.refresh_view()
        assert app.ticks == frames + 1
        assert app.events_seen >= 1500
        log = app.explain
        assert len(log.lines) <= 50
        assert len(log.history) <= log.history.maxlen


async def test_engine_errors_become_one_notification_per_frame_and_log_lines():
    from tapedesk.engine.events import Explanation, ExplanationKind

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
