"""The search: seeded and reproducible, exactly the requested trials with several workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest
from tapedesk.engine.research import optimize as opt
from tapedesk.engine.strategy import _REGISTRY

from tests.research._search import make_spec, run_search, trials_of, write_slice

SCRIPT = Path(sys.executable).with_name("tapedesk")


def test_a_seeded_search_reproduces_its_trials_and_best(tmp_path: Path):
    data = write_slice(tmp_path / "d.csv", days=2)
    params = ["fast=4..20", "slow=25..60", "stop_pct=0.15..0.35:0.05"]
    runs = []
    for i, seed in enumerate((7, 7, 8)):
        spec = make_spec(data, "ema_cross", params, trials=10, k=0, seed=seed)
        url = run_search(spec, tmp_path / f"{i}.journal")
        (_fold, best, _counts), = opt.best_trials(opt.open_storage(url), "s", spec)
        runs.append((trials_of(url, "s", "all"), best.number, best.params, best.value))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) == 10
    assert runs[2][0] != runs[0][0]  # another seed draws other parameters


def test_a_trial_that_the_strategy_refuses_fails_and_the_search_goes_on(tmp_path: Path):
    data = write_slice(tmp_path / "d.csv", days=1)
    spec = make_spec(data, "ema_cross", ["fast=10..40", "slow=12..30"], trials=6, k=0)
    url = run_search(spec, tmp_path / "j.journal")
    states = [s for _n, s, _p, _v in trials_of(url, "s", "all")]
    assert len(states) == 6 and set(states) <= {"COMPLETE", "PRUNED", "FAIL"}
    study = optuna.load_study(study_name="s:all", storage=opt.open_storage(url))
    for t in study.get_trials():
        if t.params["fast"] >= t.params["slow"]:
            assert t.state.name == "FAIL" and "must be below slow" in t.user_attrs["error"]


PLUGIN = '''
import time
from tapedesk.engine.strategies.ema_cross import EmaCross
from tapedesk import register


@register("slow_cross")
class SlowCross(EmaCross):
    """ema_cross that takes 0.15 s to start: trials long enough for two workers to share."""

    def __init__(self, symbols=None, **params):
        time.sleep(0.15)
        super().__init__(symbols, **params)
'''


PG_URL = os.environ.get("TAPEDESK_TEST_POSTGRES_URL")


@pytest.mark.skipif(not SCRIPT.exists(), reason="the tapedesk console script is not installed")
@pytest.mark.parametrize("storage", [
    "journal",
    pytest.param("postgres", marks=pytest.mark.skipif(
        not PG_URL, reason="set TAPEDESK_TEST_POSTGRES_URL=postgresql+psycopg://… (an empty "
        "database, psycopg installed) to run the workers against PostgreSQL")),
])
def test_two_worker_processes_run_each_queued_trial_exactly_once(tmp_path: Path, storage: str):
    cfg = tmp_path / "cfg"
    (cfg / "tapedesk" / "strategies").mkdir(parents=True)
    (cfg / "tapedesk" / "strategies" / "slow_cross.py").write_text(PLUGIN)
    env = {**os.environ, "XDG_CONFIG_HOME": str(cfg), "TAPEDESK_HOME": str(tmp_path / "h")}
    os.environ["XDG_CONFIG_HOME"] = str(cfg)  # this process loads the plugin too
    try:
        from tapedesk.engine.assembly import load_user_strategies

        assert load_user_strategies() == []
        data = write_slice(tmp_path / "d.csv", days=1)
        spec = make_spec(data, "slow_cross", ["fast=4..20", "slow=25..60"], trials=8, k=2)
    finally:
        del os.environ["XDG_CONFIG_HOME"]
        _REGISTRY.pop("slow_cross", None)  # other tests list every strategy
    url = f"journal:{tmp_path / 'shared.journal'}" if storage == "journal" else str(PG_URL)
    name = f"two-{uuid.uuid4().hex[:8]}"  # a database may hold earlier runs
    opt.prepare(opt.open_storage(url), name, spec)
    cmd = [str(SCRIPT), "optimize", "--study", name, "--storage", url, "--worker"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    ran: list[str] = []
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        line = out.strip().splitlines()[-1]
        assert re.match(r"worker \S+:\d+: ran \d+ trial\(s\): ", line), line
        mine = line.split(": ", 2)[2].split(", ")
        assert mine, line
        ran += mine
    expected = [f"{label}#{n}" for label in ("fold-1", "fold-2") for n in range(8)]
    assert sorted(ran) == sorted(expected)  # every trial once, none twice, none extra
    assert all(len(o.strip().splitlines()[-1].split(", ")) < 16 for o, _e in outs)  # shared
    for label in ("fold-1", "fold-2"):
        trials = trials_of(url, name, label)
        assert [n for n, *_ in trials] == list(range(8))
        assert {s for _n, s, _p, _v in trials} <= {"COMPLETE", "PRUNED"}


def test_a_trial_left_running_by_a_dead_local_worker_is_queued_again(tmp_path: Path):
    import socket

    data = write_slice(tmp_path / "d.csv", days=1)
    spec = make_spec(data, "ema_cross", ["fast=4..20"], trials=3, k=0)
    url = f"journal:{tmp_path / 'j.journal'}"
    storage = opt.open_storage(url)
    assert opt.prepare(storage, "s", spec) == {"s:all": 3}
    study = optuna.load_study(study_name="s:all", storage=storage)
    dead = opt.pop_trial(study)  # claimed, then its process "died" (no such pid)
    dead.set_user_attr("worker", f"{socket.gethostname()}:{2**22 + 12345}")
    assert opt.prepare(storage, "s", spec) == {"s:all": 1}  # resumed: one more queued
    opt.run_local_workers(url, "s", 1)
    states = [s for _n, s, _p, _v in trials_of(url, "s", "all")]
    assert states.count("FAIL") == 1 and len(states) == 4
    assert opt.best_trials(storage, "s", spec)[0][2].get("complete", 0) + \
        opt.best_trials(storage, "s", spec)[0][2].get("pruned", 0) == 3
