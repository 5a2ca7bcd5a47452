"""Suite-wide: no test writes into the user's own data dir (backtests save their results
there), unless the test sets TAPEDESK_HOME or --data-dir itself."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPEDESK_HOME", str(tmp_path_factory.mktemp("tapedesk-home")))
