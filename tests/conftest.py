"""Suite-wide: no test writes into the user's own data dir (backtests save their results
there), unless the test sets TAPEDESK_HOME or --data-dir itself."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPEDESK_HOME", str(tmp_path_factory.mktemp("tapedesk-home")))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A journal a test left open keeps aiosqlite's (non-daemon) worker thread alive, and
    with it the pytest process after its summary: stop any such thread and name the count,
    so a leak shows as a warning instead of a CI run that never ends."""
    import gc
    import sys

    import aiosqlite

    def open_journal(o: object) -> bool:
        try:
            return isinstance(o, aiosqlite.Connection) and o._thread.is_alive()
        except ReferenceError:  # a weakref.proxy whose object is gone (a Pilot + live test)
            return False

    left = [o for o in gc.get_objects() if open_journal(o)]
    for conn in left:
        conn.stop()
    if left:
        print(f"\nwarning: {len(left)} aiosqlite connection(s) left open by tests were stopped",
              file=sys.stderr)
