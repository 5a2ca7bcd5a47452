"""Header fault states and the emergency stop's honesty.

UNPROTECTED and JOURNAL ERROR are states the real engine reaches only under venue or disk
faults, and a venue that never confirms flat cannot be produced on cue, so those use
FakeEngine (same API). An offline feed and an engine that cannot start are real: the real
engine with a live-style feed that never delivers, and a journal path that cannot be opened.
"""

from __future__ import annotations

from tapedesk.engine.assembly import CallbackFeed, db_path
from tapedesk.engine.snapshot import FeedStatus
from tapedesk.tui.app import make_app
from textual.command import CommandPalette

from tests.tui.fake_engine import FakeEngine
from tests.tui.helpers import ready, screen_text, settle
from tests.tui.real_engine import live_like_engine


def _styles_of(app, needle: str) -> list[str]:
    """Styles of the header spans whose text contains ``needle``."""
    text = app.header._last
    return [str(span.style) for span in text.spans if needle in text.plain[span.start:span.end]]


async def test_unprotected_shows_in_the_live_colour():
    eng = FakeEngine(position=True)
    eng.mode = "live"
    app = make_app(eng, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        assert "UNPROTECTED" not in screen_text(app)
        eng.unprotected = ("BTCUSDT",)
        await settle(pilot)
        text = screen_text(app)
        assert "UNPROTECTED BTCUSDT" in text and "no exchange-side stop" in text
        live = app.theme_variables["mode-live"].lower()
        assert any(live in style.lower() for style in _styles_of(app, "UNPROTECTED BTCUSDT"))
        eng.unprotected = ()
        await settle(pilot)
        assert "UNPROTECTED" not in screen_text(app)


async def test_journal_error_shows_with_its_cause():
    eng = FakeEngine()
    app = make_app(eng, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        eng.journal_error = "database is locked (held by another process for 5 s)"
        await settle(pilot)
        text = screen_text(app)
        assert "JOURNAL ERROR: database is locked (held by another process for 5 s)" in text
        danger = app.theme_variables["mode-live"].lower()
        assert any(danger in s.lower() for s in _styles_of(app, "JOURNAL ERROR"))


async def test_a_feed_that_went_quiet_shows_stale_with_its_age():
    eng = FakeEngine()
    app = make_app(eng, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        eng.feed_status, eng.data_age_ms = FeedStatus.RECONNECTING, 42_000
        await settle(pilot)
        assert "STALE: last data 42s ago (reconnecting)" in screen_text(app)
        eng.feed_status, eng.data_age_ms = FeedStatus.LIVE, 80
        await settle(pilot)
        assert "STALE" not in screen_text(app) and "live 80ms" in screen_text(app)


async def test_offline_feed_turns_from_connecting_to_offline_with_its_age(_temp_home):
    """The real engine with a live-style feed that never delivers (no network)."""
    engine = live_like_engine(_temp_home)
    engine.feed = CallbackFeed("binance", ("BTCUSDT",))
    app = make_app(engine, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        now = [1000.0]
        app.header.clock = lambda: now[0]
        await ready(pilot)
        assert app.last_snapshot.feed_status is FeedStatus.CONNECTING
        assert "connecting" in screen_text(app)
        now[0] += 65
        await settle(pilot)
        text = screen_text(app)
        assert "OFFLINE: no market data for 1m05s" in text and "connecting" not in text


async def test_estop_result_is_the_engines_verification_not_a_guess():
    eng = FakeEngine(position=True)
    eng.verify_flat = False  # the venue never confirmed flat (e.g. gave up while stopping)
    app = make_app(eng, bell=False)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert eng.calls.count("emergency_stop") == 1
        text = screen_text(app)
        assert "WITHOUT the venue confirming flat" in text
        assert "verified flat" not in text


async def test_real_estop_reports_verified_flat(desk_engine):
    app = make_app(desk_engine, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert desk_engine.halted and not desk_engine.snapshot().positions
        assert any("EMERGENCY STOP complete: the venue verified flat" in e.text
                   for e in app.explain.history)


async def test_no_estop_over_an_engine_that_did_not_start(_temp_home):
    """A real engine whose journal cannot be opened: nothing holds the venue here."""
    engine = live_like_engine(_temp_home)
    db_path(_temp_home, "demo").mkdir(parents=True)  # a directory where the journal goes
    app = make_app(engine, bell=False)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await pilot.pause(0.2)
        await settle(pilot)
        assert app.engine_start_failed
        assert "E-STOP" not in screen_text(app)  # not offered in the footer
        await pilot.press("ctrl+x")
        await settle(pilot)
        text = screen_text(app)
        assert "Emergency stop not sent: the engine did not start" in text
        assert "verified flat" not in text and "HALTED" not in text
        assert not engine.halted  # the engine was never asked to stop
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not any("Emergency stop" in t for t in titles)
