"""Small searches on slices of the bundled 1m sample, run in this process (one worker)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tapedesk.engine.clock import iso
from tapedesk.engine.events import Bar
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.research import optimize as opt
from tapedesk.engine.research.objectives import SearchSpec, file_sha256
from tapedesk.engine.research.search_space import parse_space
from tapedesk.engine.research.walk_forward import data_span, make_folds
from tapedesk.engine.sample_data import SAMPLE_BARS_1M

DAY = 86_400_000
_BARS: list[Bar] = []


def sample_bars() -> list[Bar]:
    if not _BARS:
        _BARS.extend(load_bars(SAMPLE_BARS_1M))
    return _BARS


def write_slice(path: Path, days: float, start_day: int = 2,
                change: Callable[[Bar], Bar] | None = None) -> Path:
    """``days`` of the sample from its ``start_day``-th day as an OHLCV CSV; ``change``
    rewrites bars (poisoning a window)."""
    bars = sample_bars()
    t0 = bars[0].open_ts + start_day * DAY
    t1 = t0 + int(days * DAY)
    with path.open("w") as fh:
        fh.write("timestamp,open,high,low,close,volume\n")
        for b in bars:
            if t0 <= b.open_ts < t1:
                b = change(b) if change else b
                fh.write(f"{iso(b.open_ts)},{b.open!r},{b.high!r},{b.low!r},{b.close!r},"
                         f"{b.volume!r}\n")
    return path


def make_spec(data: Path, strategy: str, params: list[str], *, trials: int, k: int,
              seed: int | None = 1, objective: str = "net", min_trades: int = 1,
              prune: bool = True) -> SearchSpec:
    dims, fixed = parse_space(strategy, params)
    first, last, _ = data_span(data, None, None, None, "ohlcv_csv")
    return SearchSpec(strategy=strategy, dims=[d.to_json() for d in dims], fixed=fixed,
                      objective=objective, data=str(data), data_sha256=file_sha256(data),
                      fmt="ohlcv_csv", symbol=None,
                      folds=[f.to_json() for f in make_folds(first, last, k)], trials=trials,
                      seed=seed, min_trades=min_trades, prune=prune)


def run_search(spec: SearchSpec, store: Path, name: str = "s", jobs: int = 1) -> str:
    """Create, queue and run the whole search (bars from the packed cache, as the command
    reads them); returns the storage URL."""
    url = f"journal:{store}"
    opt.prepare(opt.open_storage(url), name, spec)
    opt.run_local_workers(url, name, jobs, cache_dir=store.parent / f"{store.stem}-cache")
    return url


def trials_of(url: str, name: str, label: str) -> list[tuple[int, str, dict, float | None]]:
    """(number, state, params, value) of every trial of one fold's study, by number."""
    import optuna

    study = optuna.load_study(study_name=f"{name}:{label}", storage=opt.open_storage(url))
    return sorted((t.number, t.state.name, t.params, t.value) for t in study.get_trials())
