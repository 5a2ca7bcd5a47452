"""The backtest command's collector policy stays inside the run: a desk (or an optimizer, or
a test) in the same process gets CPython's settings back, even when the run fails."""

from __future__ import annotations

import gc

import pytest
from tapedesk.engine import backtest_cli


def test_run_gc_raises_gen0_and_restores_it() -> None:
    before = gc.get_threshold()
    with backtest_cli.run_gc():
        assert gc.get_threshold()[0] == backtest_cli.RUN_GC_GEN0
        assert gc.get_freeze_count() > 0  # set-up's objects are out of the collector
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_run_gc_restores_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), backtest_cli.run_gc():
        raise RuntimeError("data file went away mid-run")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_run_collects_even_after_a_set_up_without_the_collector() -> None:
    """The CLI keeps the collector off during set-up (cli_dispatch.cmd_backtest): the run
    itself must still collect cycles, and the caller's state comes back after it."""
    gc.disable()
    try:
        with backtest_cli.run_gc():
            assert gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_backtest_through_the_cli_leaves_the_collector_as_it_found_it(
    tmp_path, monkeypatch
) -> None:
    from tapedesk.engine import cli_dispatch

    seen: list[bool] = []

    def fake_run(args: object, config: object) -> int:
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr(backtest_cli, "cmd_backtest", fake_run)
    monkeypatch.setenv("TAPEDESK_HOME", str(tmp_path))
    args = type("Args", (), {"config": None})()
    assert gc.isenabled()
    assert cli_dispatch.cmd_backtest(args) == 0
    assert seen == [False] and gc.isenabled()


@pytest.mark.parametrize("hooked", [False, True])
def test_a_backtest_process_skips_the_collection_at_exit(hooked: bool) -> None:
    """Exit's last collection walks every object a run left (~35 ms): the backtest command
    freezes them at exit instead. Cyclic garbage left at exit shows which happened."""
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from tapedesk.engine import backtest_cli\n"
        f"if {hooked}: backtest_cli._no_collection_at_exit()\n"
        "gc.disable()\n"
        "class Cycle:\n"
        "    def __del__(self): print('collected', flush=True)\n"
        "c = Cycle(); c.me = c; del c\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out == ("" if hooked else "collected\n")
