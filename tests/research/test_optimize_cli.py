"""`tapedesk optimize` as a user runs it: the printed report, the stored study, resume,
--write-config on a real TOML file, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import optuna
import pytest
from tapedesk.engine.research import optimize as opt
from tapedesk.engine.research.config_writer import ConfigWriteError, write_params

from tests.research._search import write_slice

SCRIPT = Path(sys.executable).with_name("tapedesk")
needs_script = pytest.mark.skipif(not SCRIPT.exists(), reason="tapedesk console script missing")

CONFIG = """# my desk
symbols = ["BTCUSDT"]

[risk]
max_trades_per_day = 12   # more than the default

[[strategies]]
name = "ema_cross"
params = { fast = 12, slow = 26 }   # tuned by hand

[[strategies]]
name = "grid"
enabled = false
"""


def _run(*argv: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "--data-dir", str(home), *argv], capture_output=True,
                          text=True, timeout=300)


@needs_script
def test_optimize_console_script_report_study_resume_and_config(tmp_path: Path):
    data = write_slice(tmp_path / "d.csv", days=3)
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG)
    home = tmp_path / "home"
    run = _run("--config", str(cfg), "optimize", "--strategy", "ema_cross", "--data", str(data),
               "--param", "fast=4..20", "--param", "slow=25..60", "--trials", "4",
               "--walk-forward", "2", "--seed", "3", "--jobs", "2", "--study", "cli",
               "--min-trades", "1", "--objective", "net", "--write-config", home=home)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "walk-forward: anchored, 2 folds" in out
    for needle in ("fold-1 ", "fold-2 ", "OOS all", "IS net", "OOS net",
                   "out-of-sample combined: net", "not investment advice"):
        assert needle in out, needle
    assert "2 local worker(s)" in run.stderr and "(8 queued now)" in run.stderr
    assert run.stderr.count("peak RSS") == 2
    assert "Traceback" not in run.stderr  # the pool's workers end quietly
    # The stored study: one per fold, exactly the trials asked, all finished.
    storage = opt.open_storage(f"journal:{home / 'optimize' / 'cli.journal'}")
    for label in ("fold-1", "fold-2"):
        study = optuna.load_study(study_name=f"cli:{label}", storage=storage)
        trials = study.get_trials()
        assert sorted(t.number for t in trials) == [0, 1, 2, 3]
        assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    saved = json.loads((home / "optimize" / "cli.report.json").read_text())
    chosen = saved["folds"][-1]["params"]
    assert saved["walk_forward"] == "anchored" and saved["folds"][0]["out_of_sample"]["trades"] >= 0
    # --write-config: fold-2's parameters, the rest of the file kept as it was.
    assert f"{cfg}: [[strategies]] ema_cross params from fold-2:" in out
    text = cfg.read_text()
    assert "# my desk" in text and "# more than the default" in text and 'name = "grid"' in text
    ema = next(s for s in tomllib.loads(text)["strategies"] if s["name"] == "ema_cross")
    assert ema["params"] == chosen
    # Resume with more trials: only the missing ones run.
    again = _run("optimize", "--study", "cli", "--trials", "6", "--jobs", "1", home=home)
    assert again.returncode == 0, again.stderr
    assert "(4 queued now)" in again.stderr
    for label in ("fold-1", "fold-2"):
        study = optuna.load_study(study_name=f"cli:{label}", storage=storage)
        assert sorted(t.number for t in study.get_trials()) == list(range(6))
    # A resumed search is fixed: changing it is one line, not a silently different search.
    refused = _run("optimize", "--study", "cli", "--objective", "sharpe", home=home)
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("tapedesk: study cli exists and its search is fixed; "
                                      "resume it without --objective (or choose another --study)")


@needs_script
@pytest.mark.parametrize(("argv", "line"), [
    (["--param", "fast=1.5..3"], "tapedesk: --param 'fast=1.5..3': fast is an int; '1.5' is not one"),
    (["--param", "speed=1..3"], "tapedesk: --param 'speed=1..3': ema_cross has no parameter 'speed'"),
    (["--param", "fast=4..9", "--trials", "0"], "tapedesk: --trials must be between 1"),
    (["--param", "fast=4..9", "--storage", "sqlite:///s.db"],
     "tapedesk: --storage sqlite: one worker only (add --jobs 1"),
    (["--param", "fast=4..9", "--from", "2024-03-01", "--to", "2024-02-01"],
     "tapedesk: --from 2024-03-01 is not before --to 2024-02-01 (--to is exclusive)"),
])
def test_bad_options_are_one_line(tmp_path: Path, argv, line):
    run = _run("optimize", "--strategy", "ema_cross", "--data", "sample:1m", *argv,
               home=tmp_path)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and run.stderr.startswith(line), run.stderr


def test_write_config_edits_only_that_strategys_params(tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    changes = write_params(cfg, "ema_cross", {"fast": 9, "slow": 26, "stop_pct": 0.30000000000000004})
    assert changes == ["fast: 12 -> 9", "stop_pct: (unset) -> 0.3"]
    text = cfg.read_text()
    assert text == CONFIG.replace("params = { fast = 12, slow = 26 }",
                                  "params = { fast = 9, slow = 26, stop_pct = 0.3}")
    assert write_params(cfg, "ema_cross", {"fast": 9}) == []  # nothing to change
    added = write_params(cfg, "liquidity_sweep", {"swing_left": 7})
    assert added == ["added [[strategies]] liquidity_sweep", "swing_left: (unset) -> 7"]
    assert tomllib.loads(cfg.read_text())["strategies"][2] == {
        "name": "liquidity_sweep", "params": {"swing_left": 7}}


def test_write_config_refuses_values_the_strategy_refuses_and_keeps_the_file(tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    with pytest.raises(ConfigWriteError, match=r"fast \(40\) must be below slow"):
        write_params(cfg, "ema_cross", {"fast": 40})
    assert cfg.read_text() == CONFIG
    empty = tmp_path / "new.toml"
    assert write_params(empty, "ema_cross", {"fast": 5})[0].startswith(
        "added [[strategies]] ema_cross (the file listed no strategies")
    assert tomllib.loads(empty.read_text())["strategies"] == [
        {"name": "ema_cross", "params": {"fast": 5}}]


@needs_script
def test_ctrl_c_keeps_finished_trials_and_resume_runs_only_the_rest(tmp_path: Path):
    import os
    import signal
    import time

    data = write_slice(tmp_path / "d.csv", days=3)
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [str(SCRIPT), "--data-dir", str(home), "optimize", "--strategy", "liquidity_sweep",
         "--data", str(data), "--param", "swing_left=5..20", "--trials", "12", "--no-prune",
         "--study", "int", "--jobs", "2", "--min-trades", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    journal = home / "optimize" / "int.journal"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # until a trial has finished
        if journal.exists() and '"state":1,' in journal.read_text():  # COMPLETE
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what ctrl+c in a terminal sends: the whole group
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: finished trials are kept; resume with tapedesk optimize --study int" in err
    assert "Traceback" not in err
    storage = opt.open_storage(f"journal:{journal}")
    done = [t for t in optuna.load_study(study_name="int:all", storage=storage).get_trials()
            if t.state.name == "COMPLETE"]
    assert 1 <= len(done) < 12
    again = _run("optimize", "--study", "int", "--jobs", "1", home=home)
    assert again.returncode == 0, again.stderr
    assert "lock file" not in again.stderr  # the stopped workers released the journal lock
    trials = optuna.load_study(study_name="int:all", storage=storage).get_trials()
    assert sum(t.state.name == "COMPLETE" for t in trials) == 12  # the rest, not 12 more
    assert {t.number for t in done} <= {t.number for t in trials if t.state.name == "COMPLETE"}
    assert all(t.state.name in ("COMPLETE", "FAIL") for t in trials)  # FAIL: cut by ctrl+c


@needs_script
@pytest.mark.parametrize("option", ["--fee-bps=-5", "--funding-bps=500", "--slippage-bps=-1",
                                    "--initial-balance=-1", "--initial-balance=abc"])
def test_optimize_bad_backtest_option_is_one_line_before_any_study(tmp_path: Path, option):
    """A backtest option out of the range the backtest accepts (the paper config's) is
    refused up front in backtest's words, not as an 'unexpected error' from inside a trial
    after a study was stored with it."""
    data = write_slice(tmp_path / "d.csv", days=1)
    home, cfg = tmp_path / "home", tmp_path / "config.toml"
    cfg.write_text("")
    run = _run("--config", str(cfg), "optimize", "--strategy", "ema_cross",
               "--data", str(data), "--param", "fast=4..8", "--trials", "1", "--jobs", "1",
               "--study", "bad", option, home=home)
    flag = option.split("=")[0]
    assert run.returncode == 2, run.stderr
    assert "unexpected error" not in run.stderr and "Traceback" not in run.stderr
    line = run.stderr.strip()
    assert "\n" not in line and line.startswith(f"tapedesk: {flag}"), line
    assert not list(home.rglob("*.journal")), "a study was stored with the bad option"


@needs_script
def test_optimize_fill_at_quote_on_bars_is_refused_not_run_as_next_open(tmp_path: Path):
    """Bars have no bid/ask: backtest refuses --fill-at quote on them; optimize ran the whole
    search with next-open fills under the quote label instead."""
    data = write_slice(tmp_path / "d.csv", days=1)
    home, cfg = tmp_path / "home", tmp_path / "config.toml"
    cfg.write_text("")
    run = _run("--config", str(cfg), "optimize", "--strategy", "ema_cross", "--data", str(data),
               "--param", "fast=4..8", "--trials", "1", "--jobs", "1", "--study", "q",
               "--fill-at", "quote", home=home)
    assert run.returncode == 2, run.stdout + run.stderr
    line = run.stderr.strip()
    assert "\n" not in line and "--fill-at quote needs bid/ask quotes" in line, line
    assert not any(p.stat().st_size for p in home.rglob("*.journal")), "a study was stored"
