"""Every recorded backtest prints, returns and saves exactly what it did when recorded
(tests/backtest_golden/cases.py says how to re-record when a result is meant to change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.backtest_golden.cases import CASES, RECORDED, run_case


@pytest.mark.parametrize("name", sorted(CASES))
def test_backtest_output_is_unchanged(name: str, tmp_path: Path) -> None:
    want = json.loads(RECORDED.read_text())[name]
    got = run_case(CASES[name], str(tmp_path))
    assert got["exit"] == "0 0", got["stderr"]
    assert got["text"] == want["text"]
    assert got["json_sha256"] == want["json_sha256"], "the --json output changed"
    assert got["saved_sha256"] == want["saved_sha256"], "the saved result changed"
    assert got["stderr"] == want["stderr"]
