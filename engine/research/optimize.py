"""The search behind ``tapedesk optimize``: Optuna studies, a queue of trials, workers.

One study per walk-forward fold (``NAME:fold-1`` …, or ``NAME:all``), all in one storage.
The command that creates (or resumes) a search **enqueues exactly the requested number of
trials** per fold as WAITING trials; workers — local processes, or ``--worker`` commands on
other machines sharing the storage — pop them one at a time (Optuna's own atomic
WAITING → RUNNING claim) and stop when none is left. So a trial is run once, by one
worker, and the total is what was asked, however many workers join. Parameters are drawn
when a trial is popped, by the worker's seeded TPE sampler over the results so far.

With one worker the search is reproducible (same seed, same trials, same best); with
several, which results a sampler has seen when it draws depends on timing.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState
from tapedesk.engine.research.objectives import (
    SearchSpec,
    Stop,
    file_sha256,
    final_value,
    run_span,
)
from tapedesk.engine.research.search_space import Dimension
from tapedesk.engine.research.walk_forward import Fold

if TYPE_CHECKING:
    from tapedesk.engine.research.bar_cache import Cache

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPEC_ATTR = "tapedesk_spec"
DONE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class OptimizeError(Exception):
    """A search that cannot start or continue; one line for the user."""


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """``journal:PATH`` → a journal file (the local default: safe for many processes on one
    machine); anything else is an SQLAlchemy URL (``postgresql://…``, ``sqlite:///…``)."""
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = url.removeprefix("journal:")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(
            JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 60}  # writers wait for the lock, not fail at 5 s
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as exc:  # a driver missing, a server not answering: one line
        raise OptimizeError(f"--storage {_redact(url)}: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}") from None


def local_file(url: str) -> Path | None:
    """The file a storage URL names on this machine (``journal:PATH``, ``sqlite:///PATH``),
    or None (a database server, SQLite in memory)."""
    if url.startswith("journal:"):
        return Path(url.removeprefix("journal:"))
    m = re.match(r"sqlite(\+\w+)?:///([^?]+)", url)
    return Path(m.group(2)) if m and m.group(2) != ":memory:" else None


def absent(url: str) -> bool:
    """True when ``url`` names a file on this machine that does not exist: no search is
    stored there, and opening the storage would make the file."""
    path = local_file(url)
    return path is not None and not path.exists()


def no_search(name: str, url: str) -> OptimizeError:
    return OptimizeError(f"no search called {name!r} in {_redact(url)}")


def _redact(url: str) -> str:
    """A storage URL without its password (it may be printed or end up in a log)."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        return f"{scheme}://{cred.split(':', 1)[0]}:***@{host}"
    return url


def new_name(strategy: str | None) -> str:
    """The name of a search started without ``--study``: ``ema_cross-20240301T120000-3f9a1c``.
    The random tail makes two searches started in the same second two searches (the second
    found the first's study, under the same name and journal file, and joined or was
    refused); the start line says the name to resume with."""
    import secrets

    return f"{strategy or 'search'}-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def study_names(name: str, spec: SearchSpec) -> list[tuple[Fold, str]]:
    folds = [Fold.from_json(f) for f in spec.folds]
    return [(f, f"{name}:{f.label}") for f in folds]


def load_spec(storage: optuna.storages.BaseStorage, name: str) -> SearchSpec | None:
    """The stored search called ``name``, or None when there is none."""
    for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
        if summary.study_name.startswith(f"{name}:") and SPEC_ATTR in summary.user_attrs:
            return SearchSpec.from_json(summary.user_attrs[SPEC_ATTR])
    return None


def prepare(storage: optuna.storages.BaseStorage, name: str, spec: SearchSpec,
            new: bool = False) -> dict[str, int]:
    """Create the fold studies (or find them) and top each up to ``spec.trials`` trials.

    ``new``: the search was defined by these options, so its studies must not exist yet; one
    that another run created meanwhile (the same ``--study`` started twice at once) is
    refused, not joined with this run's ranges written over its own.
    A RUNNING trial whose worker ran on this machine and is gone (a killed run) is failed
    and replaced. Returns {study: trials enqueued now}.
    """
    added: dict[str, int] = {}
    made: list[str] = []
    try:
        if new:  # one name for every window layout: NAME:all and NAME:fold-1 do not collide
            _claim(storage, name, made)
        for _fold, sname in study_names(name, spec):
            added[sname] = _prepare_one(storage, name, sname, spec, new, made)
    except BaseException:
        # A new search stopped here (ctrl+c, SIGTERM) would leave a study without its
        # search: the next start of the name would be refused as made by another run, and
        # its resume would find no search. What this run made goes; a search is all or none.
        for sname in made if new else ():
            with contextlib.suppress(Exception):
                optuna.delete_study(study_name=sname, storage=storage)
        raise
    return added


def _taken(name: str) -> OptimizeError:
    return OptimizeError(f"study {name} was just created by another run; resume it with "
                         f"--study {name}, or choose another --study")


def _claim(storage: optuna.storages.BaseStorage, name: str, made: list[str]) -> None:
    """Make the study ``NAME:claim`` (no trials, no search): of two new searches given the
    same name at once, whatever their windows, the second is refused here."""
    try:
        optuna.create_study(study_name=f"{name}:claim", storage=storage)
    except optuna.exceptions.DuplicatedStudyError:
        raise _taken(name) from None
    made.append(f"{name}:claim")


def _prepare_one(storage: optuna.storages.BaseStorage, name: str, sname: str,
                 spec: SearchSpec, new: bool, made: list[str]) -> int:
    try:
        study = optuna.create_study(study_name=sname, storage=storage,
                                    direction="maximize", load_if_exists=not new)
    except optuna.exceptions.DuplicatedStudyError:
        raise _taken(name) from None
    made.append(sname)
    study.set_user_attr(SPEC_ATTR, spec.to_json())
    _fail_dead_local(study)
    counted = [t for t in study.get_trials(deepcopy=False)
               if t.state is not TrialState.FAIL or not t.user_attrs.get("stale")]
    missing = spec.trials - len(counted)
    for _ in range(max(0, missing)):
        study.enqueue_trial({}, skip_if_exists=False)
    return max(0, missing)


def _fail_dead_local(study: optuna.Study) -> None:
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        who = str(t.user_attrs.get("worker", ""))
        w_host, _, pid = who.rpartition(":")
        # No worker named: its worker was stopped between claiming it and signing it
        # (a worker signs a trial the moment it claims it).
        if not who or (w_host == host and pid.isdigit() and not _alive(int(pid))):
            study._storage.set_trial_user_attr(t._trial_id, "stale", True)
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pop_trial(study: optuna.Study) -> optuna.Trial | None:
    """Claim one WAITING trial (atomic in every Optuna storage), or None when none is left.
    Unlike ``study.ask()`` this never creates a trial beyond the enqueued ones."""
    trial_id = study._pop_waiting_trial_id()
    return None if trial_id is None else optuna.Trial(study, trial_id)


def _sampler(spec: SearchSpec, fold: Fold, worker: int) -> optuna.samplers.BaseSampler:
    seed = None if spec.seed is None else spec.seed + 1009 * fold.index + 7919 * worker
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, spec.trials // 5)))


def _pruner(spec: SearchSpec) -> optuna.pruners.BasePruner:
    if not spec.prune:
        return optuna.pruners.NopPruner()
    # "Hopeless": in the bottom quarter of the trials that reached the same checkpoint.
    return optuna.pruners.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=0)


@dataclass
class WorkerResult:
    worker: str
    ran: list[tuple[str, int]]
    peak_rss_mib: float
    cpu_s: float


def run_worker(url: str, name: str, data: Path | None = None, index: int = 0,
               say: Callable[[str], None] | None = None,
               cache_dir: Path | None = None) -> WorkerResult:
    """Run queued trials of every fold until none is waiting; ``data`` overrides the
    stored path (a copy on this machine, checked against the stored SHA-256); bars are
    read from the data's binary copy under ``cache_dir`` (research.bar_cache) when one is given."""
    from tapedesk.engine.assembly import load_user_strategies
    from tapedesk.engine.research.bar_cache import ensure

    load_user_strategies()  # a spawned worker finds plugin strategies too (problems: said once
    if absent(url):  # by the command that started it); a storage file is not made for nothing
        raise no_search(name, url)
    storage = open_storage(url)
    spec = load_spec(storage, name)
    if spec is None:
        raise no_search(name, url)
    path = data or Path(spec.data)
    if not path.is_file():
        raise OptimizeError(f"{path}: data file not found on this machine (give --data)")
    if data is not None and file_sha256(path) != spec.data_sha256:
        raise OptimizeError(f"{path}: not the data this search was made with (SHA-256 differs)")
    cache = ensure(spec.fmt, path, spec.symbol, cache_dir)
    me = f"{socket.gethostname()}:{os.getpid()}"
    dims = [Dimension.from_json(d) for d in spec.dims]
    ran: list[tuple[str, int]] = []
    cpu0 = time.process_time()
    for fold, sname in study_names(name, spec):
        study = optuna.load_study(study_name=sname, storage=storage,
                                  sampler=_sampler(spec, fold, index), pruner=_pruner(spec))
        while (trial := pop_trial(study)) is not None:
            trial.set_user_attr("worker", me)
            _evaluate(study, trial, spec, fold, dims, path, cache)
            ran.append((fold.label, trial.number))
            if say:
                say(f"{fold.label} trial {trial.number} done")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return WorkerResult(me, ran, peak, time.process_time() - cpu0)


def _evaluate(study: optuna.Study, trial: optuna.Trial, spec: SearchSpec, fold: Fold,
              dims: list[Dimension], path: Path, cache: Cache | None = None) -> None:
    from tapedesk.engine.strategy import StrategyError

    params = {d.name: d.suggest(trial) for d in dims}

    def checkpoint(step: int, value: float) -> None:
        trial.report(value, step)
        if trial.should_prune():
            raise Stop

    try:
        metrics, _trades, _eq = run_span(spec, params, fold.is_start, fold.is_end,
                                         fold.checkpoints, checkpoint, path, cache)
    except Stop:
        study.tell(trial, state=TrialState.PRUNED)
        return
    except StrategyError as exc:  # a combination the strategy refuses (fast >= slow)
        trial.set_user_attr("error", str(exc))
        study.tell(trial, state=TrialState.FAIL)
        return
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            trial.set_user_attr("stale", True)  # cut short, not failed: resume runs it again
        study.tell(trial, state=TrialState.FAIL)
        raise
    trial.set_user_attr("is", summary(metrics))
    study.tell(trial, final_value(metrics, spec))


def summary(m: Any) -> dict[str, Any]:
    """The figures a report shows for one run (JSON-ready)."""
    return {"trades": m.trades, "net": round(m.net_pnl, 2), "sharpe": m.sharpe,
            "calmar": m.calmar, "expectancy": m.expectancy,
            "max_dd_pct": round(m.max_drawdown_pct, 3), "start": m.start_ts, "end": m.end_ts}


def _raise_interrupt(_sig: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _worker_entry(job: tuple[str, str, str | None, int, str | None]) -> WorkerResult:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl+c is the parent's: it stops the pool
    # ...with SIGTERM: unwind instead of dying on the spot, so a journal-file lock held at
    # that moment is released (else the next run waits out Optuna's 30 s grace period) and
    # the cut trial is recorded as interrupted, to be queued again on resume.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    url, name, data, index, cache_dir = job
    try:
        return run_worker(url, name, Path(data) if data else None, index,
                          cache_dir=Path(cache_dir) if cache_dir else None)
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # stopped by the parent: quietly, no traceback
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # done: the pool's shutdown just ends us


def run_local_workers(url: str, name: str, jobs: int, data: Path | None = None,
                      cache_dir: Path | None = None) -> list[WorkerResult]:
    """``jobs`` worker processes (spawned: a clean interpreter, one engine each), or this
    process itself for one job."""
    if jobs <= 1:
        return [run_worker(url, name, data, 0, cache_dir=cache_dir)]
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(jobs) as pool:
        results = pool.map(_worker_entry, [(url, name, str(data) if data else None, i,
                                            str(cache_dir) if cache_dir else None)
                                           for i in range(jobs)], chunksize=1)
        pool.close()  # a normal end: let the workers exit (the context's terminate is for ^C)
        pool.join()
    return results


def wait_for_remote(storage: optuna.storages.BaseStorage, name: str, spec: SearchSpec,
                    say: Callable[[str], None], poll_s: float = 2.0) -> None:
    """Block until no fold has a WAITING or RUNNING trial (workers elsewhere)."""
    shown = -1
    while True:
        left = 0
        for _fold, sname in study_names(name, spec):
            study = optuna.load_study(study_name=sname, storage=storage)
            left += len(study.get_trials(deepcopy=False,
                                         states=(TrialState.WAITING, TrialState.RUNNING)))
        if not left:
            return
        if left != shown:
            say(f"waiting for {left} trial(s) queued or running on other workers")
            shown = left
        time.sleep(poll_s)


def best_trials(storage: optuna.storages.BaseStorage, name: str, spec: SearchSpec
                ) -> list[tuple[Fold, optuna.trial.FrozenTrial | None, dict[str, int]]]:
    """Per fold: its best finished trial (None when no trial reached ``min_trades``), and
    the count of trials per state."""
    out = []
    for fold, sname in study_names(name, spec):
        study = optuna.load_study(study_name=sname, storage=storage)
        trials = study.get_trials(deepcopy=False)
        counts: dict[str, int] = {}
        for t in trials:
            counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
        done = [t for t in trials if t.state is TrialState.COMPLETE
                and t.value is not None and t.value > float("-inf")]
        best = max(done, key=lambda t: (t.value, -t.number)) if done else None
        out.append((fold, best, counts))
    return out


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
