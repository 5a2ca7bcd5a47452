"""How `tapedesk optimize` starts: a search's name is its own, and a start that fails leaves
nothing behind (run through the console script, on real journal/SQLite files)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from tapedesk.engine.research import optimize as opt

from tests.research._search import write_slice

SCRIPT = Path(sys.executable).with_name("tapedesk")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="tapedesk console script missing")

#: Loaded by every Python process started with this folder on PYTHONPATH: the wall clock's
#: second stands still, so two runs are certain to start "in the same second".
FROZEN_CLOCK = """
import time
_strftime, _still = time.strftime, time.time()
time.strftime = lambda fmt, t=None: _strftime(fmt, time.localtime(_still) if t is None else t)
"""


def _cmd(home: Path, *argv: str) -> list[str]:
    return [str(SCRIPT), "--data-dir", str(home), *argv]


def test_two_searches_started_in_the_same_second_are_two_studies(tmp_path: Path):
    """Without --study the name was STRATEGY-<second>: the second run of two started in
    the same second found the first one's study (same journal file) and was refused as
    'exists and its search is fixed', or joined it."""
    data = write_slice(tmp_path / "d.csv", days=1)
    (tmp_path / "clock").mkdir()
    (tmp_path / "clock" / "sitecustomize.py").write_text(FROZEN_CLOCK)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "clock")}
    home = tmp_path / "home"
    runs = [subprocess.Popen(_cmd(home, "optimize", "--strategy", "ema_cross", "--data",
                                  str(data), "--param", f"fast={lo}..{lo + 4}", "--trials", "2",
                                  "--jobs", "1", "--min-trades", "0", "--json"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for lo in (3, 10)]
    outs = [p.communicate(timeout=300) for p in runs]
    for p, (_out, err) in zip(runs, outs, strict=True):
        assert p.returncode == 0, err
    names = [re.search(r"^study (\S+) in ", err, re.M).group(1) for _out, err in outs]
    assert names[0] != names[1], names
    second = names[0].rsplit("-", 1)[0]
    assert all(n.rsplit("-", 1)[0] == second for n in names), names  # the clock stood still
    for name, lo in zip(names, (3, 10), strict=True):
        assert f"Resume: tapedesk optimize --study {name}" in "".join(e for _o, e in outs)
        storage = opt.open_storage(f"journal:{home / 'optimize' / (name + '.journal')}")
        trials = optuna.load_study(study_name=f"{name}:all", storage=storage).get_trials()
        assert len(trials) == 2 and all(lo <= t.params["fast"] <= lo + 4 for t in trials)
        report = json.loads((home / "optimize" / f"{name}.report.json").read_text())
        assert report["study"] == name


def test_the_same_new_study_started_twice_at_once_is_made_once(tmp_path: Path):
    """Two new searches given the same --study at once: both used to run, into one study,
    the second's ranges written over the first's (trials drawn from both). Now one runs and
    the other is refused in one line that says what to do."""
    data = write_slice(tmp_path / "d.csv", days=1)
    home = tmp_path / "home"
    runs = [subprocess.Popen(_cmd(home, "optimize", "--strategy", "ema_cross", "--data",
                                  str(data), "--param", f"fast={lo}..{lo + 4}", "--trials", "2",
                                  "--jobs", "1", "--min-trades", "0", "--study", "same"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for lo in (3, 10)]
    outs = [p.communicate(timeout=300)[1] for p in runs]
    codes = sorted(p.returncode for p in runs)
    assert codes == [0, 2], outs
    refused = outs[[p.returncode for p in runs].index(2)].strip()
    assert "\n" not in refused and "study same" in refused, refused
    assert any(words in refused for words in ("was just created by another run",
                                              "exists and its search is fixed")), refused
    lo = (3, 10)[[p.returncode for p in runs].index(0)]
    storage = opt.open_storage(f"journal:{home / 'optimize' / 'same.journal'}")
    trials = optuna.load_study(study_name="same:all", storage=storage).get_trials()
    assert len(trials) == 2 and all(lo <= t.params["fast"] <= lo + 4 for t in trials)


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")} \
        if root.exists() else {}


@pytest.mark.parametrize("argv", [
    ["--strategy", "ema_cross", "--data", "sample:1m", "--param", "speed=1..3"],
    ["--strategy", "ema_cross", "--data", "no-such.csv", "--param", "fast=4..8"],
    ["--strategy", "ema_cross", "--data", "sample:1m", "--from", "yesterday-ish"],
    ["--strategy", "ema_cross", "--data", "sample:1m", "--fill-at", "quote"],
    ["--strategy", "ema_cross", "--data", "sample:1m", "--storage", "sqlite:///{tmp}/s.db",
     "--jobs", "1", "--param", "speed=1..3"],
    ["--study", "never-made"],
    ["--study", "never-made", "--worker"],
])
@pytest.mark.parametrize("home_exists", [False, True])
def test_a_failed_start_leaves_nothing_behind(tmp_path: Path, argv, home_exists):
    """A refused option (a parameter the strategy lacks, a missing file, a bad time) ended
    in one line but left an empty NAME.journal (and the data dir and optimize/ made for
    it): a study of nothing that the next `--study NAME` would have found."""
    home = tmp_path / "home"
    if home_exists:  # a data dir as the desk makes it (private), holding another search
        home.mkdir(mode=0o700)
        (home / "optimize").mkdir()
        (home / "optimize" / "other.report.json").write_text("{}")
    before = _tree(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    run = subprocess.run(_cmd(home, "optimize", *argv), capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert _tree(tmp_path) == before, run.stderr
    if argv[0] == "--study":
        assert "no search called 'never-made'" in run.stderr, run.stderr


def test_a_bad_config_file_leaves_nothing_behind(tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[risk]\nmax_leverage = 500\n")
    before = _tree(tmp_path)
    run = subprocess.run(_cmd(tmp_path / "home", "--config", str(cfg), "optimize",
                              "--strategy", "ema_cross", "--data", "sample:1m",
                              "--param", "fast=4..8"),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "risk.max_leverage" in run.stderr, run.stderr
    assert _tree(tmp_path) == before
