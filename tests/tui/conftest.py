"""Fixtures for the desk tests: a temp data dir for every test, and the engine under test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _temp_home(tmp_path, monkeypatch):
    """Never touch the user's desk: every test gets its own TAPEDESK_HOME."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("TAPEDESK_HOME", str(home))
    return home


@pytest.fixture
def desk_engine(_temp_home):
    """The REAL engine (paper venue, SQLite journal in a temp dir) looping the bundled 1m
    bars at 1200x, as `tapedesk demo` does: trades happen and paper orders fill."""
    from tests.tui.real_engine import live_like_engine

    return live_like_engine(_temp_home)


@pytest.fixture
def snapshot_engine(_temp_home):
    """The REAL engine replaying a fixed window of the bundled bars to its end."""
    from tests.tui.real_engine import snapshot_engine

    return snapshot_engine(_temp_home)
