"""The backtest command's collector policy stays inside the run: a desk (or an optimizer, or
a test) in the same process gets CPython's settings back, even when the run fails."""

from __future__ import annotations

import gc

import pytest
from tapedesk.engine import backtest_cli


def test_run_gc_raises_gen0_and_restores_it() -> None:
    before = gc.get_threshold()
    with backtest_cli._run_gc():
        assert gc.get_threshold()[0] == backtest_cli.RUN_GC_GEN0
        assert gc.get_freeze_count() > 0  # set-up's objects are out of the collector
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_run_gc_restores_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), backtest_cli._run_gc():
        raise RuntimeError("data file went away mid-run")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
