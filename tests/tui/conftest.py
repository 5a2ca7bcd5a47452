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
def desk_engine(tmp_path):
    """The engine under test. Until engine/assembly.py exists this is FakeEngine."""
    from tests.tui.fake_engine import FakeEngine

    return FakeEngine(position=True)


@pytest.fixture
def snapshot_engine(tmp_path):
    """A deterministic engine for snapshots. Until engine/assembly.py exists: FakeEngine."""
    from tests.tui.fake_engine import FakeEngine

    return FakeEngine(position=True)
