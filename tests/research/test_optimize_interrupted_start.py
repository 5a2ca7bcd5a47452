"""A new search stopped while its studies are being made (ctrl+c, or a SIGTERM from a
service manager) does not leave a study without its search: that study made the name a dead
end ('was just created by another run; resume it with --study NAME', then 'no search called
NAME to resume'). Console script; the stop arrives at the worst moment: a fold's study
created, its search not yet stored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.research._search import write_slice

SCRIPT = Path(sys.executable).with_name("tapedesk")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="tapedesk console script missing")

#: Loaded by the console script's Python (PYTHONPATH): the first time a study is given its
#: search, the process is sent SIGNAL first (as if the user pressed ctrl+c right then).
STOP_THERE = """
import os, signal
import optuna
_set = optuna.Study.set_user_attr
def _stopped(self, key, value):
    if key == "tapedesk_spec" and not os.environ.get("_STOPPED"):
        os.environ["_STOPPED"] = "1"
        os.kill(os.getpid(), signal.{signal})
    return _set(self, key, value)
optuna.Study.set_user_attr = _stopped
"""


@pytest.mark.parametrize("signal", ["SIGINT", "SIGTERM"])
def test_a_start_stopped_while_making_its_studies_leaves_the_name_usable(tmp_path, signal):
    data = write_slice(tmp_path / "d.csv", days=1)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(STOP_THERE.format(signal=signal))
    home = tmp_path / "home"
    argv = [str(SCRIPT), "--data-dir", str(home), "optimize", "--strategy", "ema_cross",
            "--data", str(data), "--param", "fast=3..6", "--trials", "1", "--jobs", "1",
            "--min-trades", "0", "--study", "s", "--walk-forward", "2"]
    stopped = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": str(hook)})
    assert stopped.returncode == 130, (stopped.returncode, stopped.stderr)
    assert "Traceback" not in stopped.stderr
    again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "study s in " in again.stderr


#: Each run waits, just before making its studies, until both runs are there: the two
#: starts are certain to overlap (both found no search called NAME).
MEET = """
import os, time
from pathlib import Path
import optuna
_create = optuna.create_study
def _met(*a, **k):
    here = Path(os.environ["_MEET"])
    (here / str(os.getpid())).touch()
    end = time.monotonic() + 20
    while len(list(here.iterdir())) < 2 and time.monotonic() < end:
        time.sleep(0.02)
    optuna.create_study = _create
    return _create(*a, **k)
optuna.create_study = _met
"""


def test_the_same_new_study_with_other_windows_at_once_is_made_once(tmp_path):
    """Two new searches given the same --study at once, one without walk-forward (study
    NAME:all) and one with (NAME:fold-1, ...): their studies' names did not collide, so both
    were made into one search; the second's workers ran the first's trials and it then
    waited for its own folds forever."""
    data = write_slice(tmp_path / "d.csv", days=2)
    hook, meet = tmp_path / "hook", tmp_path / "meet"
    hook.mkdir()
    meet.mkdir()
    (hook / "sitecustomize.py").write_text(MEET)
    env = {**os.environ, "PYTHONPATH": str(hook), "_MEET": str(meet)}
    runs = [subprocess.Popen(
        [str(SCRIPT), "--data-dir", str(tmp_path / "home"), "optimize", "--strategy",
         "ema_cross", "--data", str(data), "--param", "fast=3..6", "--trials", "1",
         "--jobs", "1", "--min-trades", "0", "--study", "same", "--walk-forward", wf],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for wf in ("0", "2")]
    try:
        errs = [p.communicate(timeout=60)[1] for p in runs]
    finally:
        for p in runs:
            p.kill()
    codes = [p.returncode for p in runs]
    assert sorted(codes) == [0, 2], (codes, errs)
    refused = errs[codes.index(2)].strip()
    assert refused == ("tapedesk: study same was just created by another run; resume it "
                       "with --study same, or choose another --study"), refused
