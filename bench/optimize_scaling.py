"""Trials per minute of ``tapedesk optimize`` on 1, 2 and all cores, ~1 M bars, and the
peak RSS of each worker process.

Each configuration is a fresh search (no walk-forward, no pruning, so every trial is one
whole backtest of the file) whose queue holds ``--per-worker`` trials per worker; the
workers are spawned processes exactly as ``--jobs N`` starts them, and the clock runs from
their start to the last trial's end (interpreter start-up included, as a user sees it).

On a machine shared with other jobs the wall-clock scaling drops for reasons that are not
the optimizer's; the CPU seconds per trial (each worker's own process time) do not, so they
are printed beside it, with each worker's CPU share (its CPU seconds ÷ the wall time: 1.0
is a whole core to itself) and the load average (this VM exposes no hardware counters, so
instruction counts are not available: CPU time is the load-independent figure). Re-run
when the machine is quiet for the wall-clock ratio.

    python bench/optimize_scaling.py [--bars 1000000] [--per-worker 2]
        [--strategy ema_cross --strategy liquidity_sweep] [--jobs 1,2,all]
    python bench/optimize_scaling.py --storage-test [--trials 300] [--jobs 2,4]

``--storage-test`` compares the local storages under concurrency: many short trials (one
day of bars each) by 2 and 4 processes on a journal file and on SQLite, counting trials per
second and trials that failed on a storage error (SQLite's "database is locked").

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from backtest_throughput import write_tiled
from tapedesk.engine.research import optimize as opt
from tapedesk.engine.research.objectives import SearchSpec, file_sha256
from tapedesk.engine.research.search_space import parse_space
from tapedesk.engine.research.walk_forward import data_span, make_folds

CACHE = Path(__file__).resolve().parent / "out" / "cache"
SPACES = {
    "ema_cross": ["fast=5..20", "slow=30..90"],
    "liquidity_sweep": ["swing_left=5..20", "target_r=1.5..3.0"],
}


def run(data: Path, strategy: str, jobs: int, per_worker: int, span: tuple[int, int],
        sha: str) -> tuple[float, list[opt.WorkerResult], int]:
    dims, fixed = parse_space(strategy, SPACES[strategy])
    trials = jobs * per_worker
    spec = SearchSpec(strategy=strategy, dims=[d.to_json() for d in dims], fixed=fixed,
                      objective="sharpe", data=str(data), data_sha256=sha, fmt="ohlcv_csv",
                      symbol=None, folds=[f.to_json() for f in make_folds(*span, 0)],
                      trials=trials, seed=1, min_trades=1, prune=False)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"journal:{tmp}/bench.journal"
        opt.prepare(opt.open_storage(url), "bench", spec)
        ctx = multiprocessing.get_context("spawn")
        t0 = time.perf_counter()
        with ctx.Pool(jobs) as pool:
            results = pool.map(opt._worker_entry,
                               [(url, "bench", None, i, str(CACHE)) for i in range(jobs)],
                               chunksize=1)
            pool.close()
            pool.join()
        wall = time.perf_counter() - t0
    return wall, results, trials


def storage_test(trials: int, jobs_list: list[int]) -> None:
    from tapedesk.engine.feeds import load_bars
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "day.csv"
        from tapedesk.engine.clock import iso

        with data.open("w") as fh:
            fh.write("timestamp,open,high,low,close,volume\n")
            for b in load_bars(SAMPLE_BARS_1M)[1440:2880]:
                fh.write(f"{iso(b.open_ts)},{b.open!r},{b.high!r},{b.low!r},{b.close!r},"
                         f"{b.volume!r}\n")
        first, end, _n = data_span(data, None, None, None, "ohlcv_csv")
        dims, fixed = parse_space("ema_cross", SPACES["ema_cross"])
        for jobs in jobs_list:
            for kind in ("journal", "sqlite"):
                spec = SearchSpec(strategy="ema_cross", dims=[d.to_json() for d in dims],
                                  fixed=fixed, objective="net", data=str(data),
                                  data_sha256=file_sha256(data), fmt="ohlcv_csv", symbol=None,
                                  folds=[f.to_json() for f in make_folds(first, end, 0)],
                                  trials=trials, seed=1, min_trades=1, prune=False)
                store = Path(tmp) / f"{kind}-{jobs}"
                url = f"journal:{store}.journal" if kind == "journal" else f"sqlite:///{store}.db"
                opt.prepare(opt.open_storage(url), "st", spec)
                ctx = multiprocessing.get_context("spawn")
                t0 = time.perf_counter()
                errors = ""
                try:
                    with ctx.Pool(jobs) as pool:
                        pool.map(opt._worker_entry,
                                 [(url, "st", None, i, f"{tmp}/cache") for i in range(jobs)],
                                 chunksize=1)
                        pool.close()
                        pool.join()
                except Exception as exc:  # a storage error ends a worker
                    errors = f"; a worker died: {type(exc).__name__}: {str(exc)[:80]}"
                wall = time.perf_counter() - t0
                (_f, _best, counts), = opt.best_trials(opt.open_storage(url), "st", spec)
                done = counts.get("complete", 0) + counts.get("pruned", 0)
                print(f"{kind:8s} {jobs} processes: {done}/{trials} trials in {wall:5.1f} s "
                      f"= {done / wall:5.1f} trials/s; states {counts}{errors}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--storage-test", action="store_true")
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--per-worker", type=int, default=2)
    ap.add_argument("--strategy", action="append")
    ap.add_argument("--jobs", default="1,2,all")
    args = ap.parse_args()
    if args.storage_test:
        storage_test(args.trials, [int(j) for j in
                                   (args.jobs if args.jobs != "1,2,all" else "2,4").split(",")])
        return
    cores = opt.default_jobs()
    jobs_list = sorted({cores if j == "all" else int(j) for j in args.jobs.split(",")})
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    data = out / f"tiled_{args.bars}_1m.csv"
    if not data.exists():
        print(f"writing {data} ...", flush=True)
        write_tiled(args.bars, data)
    sha = file_sha256(data)
    from tapedesk.engine.research import bar_cache

    cache = bar_cache.ensure("ohlcv_csv", data, None, CACHE)  # as the command does, once
    first, end, n = bar_cache.span(cache) if cache else data_span(data, None, None, None,
                                                                    "ohlcv_csv")
    print(f"data: {n:,} bars ({data.stat().st_size / 1e6:.0f} MB CSV), {cores} cores, "
          f"{args.per_worker} trials per worker, no pruning, journal-file storage")
    for strategy in args.strategy or list(SPACES):
        base = cpu_base = None
        for jobs in jobs_list:
            load0 = os.getloadavg()[0]
            wall, results, trials = run(data, strategy, jobs, args.per_worker, (first, end), sha)
            tpm = trials / wall * 60
            cpu = sum(r.cpu_s for r in results) / trials
            base = base or tpm
            cpu_tpm = jobs * 60 / cpu  # each worker on a core of its own
            cpu_base = cpu_base or cpu_tpm
            rss = ", ".join(f"{r.peak_rss_mib:.0f}" for r in results)
            share = ", ".join(f"{r.cpu_s / wall:.2f}" for r in results)
            print(f"{strategy:16s} {jobs} worker(s): {trials} trials in {wall:6.1f} s = "
                  f"{tpm:5.2f} trials/min (x{tpm / base:.2f} vs 1 worker); "
                  f"CPU {cpu:.2f} s/trial; CPU share per worker {share}; "
                  f"peak RSS per worker {rss} MiB; "
                  f"load avg {load0:.1f} before", flush=True)
            print(f"{'':16s}   CPU-bound: {cpu_tpm:5.2f} trials/min with a core per worker "
                  f"(x{cpu_tpm / cpu_base:.2f} vs 1 worker)", flush=True)


if __name__ == "__main__":
    main()
