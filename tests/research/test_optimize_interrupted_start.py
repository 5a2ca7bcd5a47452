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
