"""Walk-forward windows: anchored, contiguous, and no fold's search ever reads its test data."""

from __future__ import annotations

from pathlib import Path

import optuna
from hypothesis import given
from hypothesis import strategies as st
from tapedesk.engine.events import Bar
from tapedesk.engine.research import optimize as opt
from tapedesk.engine.research.objectives import run_span
from tapedesk.engine.research.search_space import Dimension
from tapedesk.engine.research.walk_forward import Fold, make_folds

from tests.research._search import DAY, make_spec, run_search, trials_of, write_slice


@given(st.integers(0, 10**12), st.integers(2 * 60_000 * 101, 10**10), st.integers(1, 8))
def test_anchored_folds_tile_the_span(start, length, k):
    folds = make_folds(start, start + length, k)
    assert len(folds) == k
    for i, f in enumerate(folds, 1):
        assert f.index == i and f.is_start == start
        assert f.is_end == f.oos_start < f.oos_end  # the test window follows the search's data
        assert f.checkpoints[-1] == f.is_end and len(f.checkpoints) == i
        assert all(f.is_start < c <= f.is_end for c in f.checkpoints)
    assert [f.oos_end for f in folds[:-1]] == [f.oos_start for f in folds[1:]]
    assert folds[-1].oos_end == start + length
    assert Fold.from_json(folds[0].to_json()) == folds[0]


def test_without_walk_forward_one_search_reports_at_quarters():
    (f,) = make_folds(0, 4 * DAY, 0)
    assert f.oos_start is None and f.label == "all"
    assert f.checkpoints == (DAY, 2 * DAY, 3 * DAY, 4 * DAY)


def _poison(oos_start: int, oos_end: int):
    """Prices in [oos_start, oos_end) moved ×1.3 and swung: any read changes results."""
    def change(b: Bar) -> Bar:
        if oos_start <= b.ts < oos_end:
            k = 1.3 if (b.open_ts // 60_000) % 7 else 0.8
            return Bar(b.symbol, b.open_ts, b.ts, b.open * k, b.high * 1.3, b.low * 0.8,
                       b.close * k, b.volume)
        return b
    return change


def test_poisoned_test_window_leaves_its_fold_search_unchanged(tmp_path: Path):
    """Fold 2's test window is poisoned: folds 1 and 2 (parameters drawn, values, the
    pruner's decisions at fold 2's checkpoint) are identical to a clean run's; fold 3,
    whose in-sample span holds that window, changes, and so does fold 2's OOS score."""
    params = ["fast=4..20", "slow=25..60"]
    clean = write_slice(tmp_path / "clean.csv", days=4)
    spec_c = make_spec(clean, "ema_cross", params, trials=10, k=3)
    fold2 = Fold.from_json(spec_c.folds[1])
    poisoned = write_slice(tmp_path / "poisoned.csv", days=4,
                           change=_poison(fold2.oos_start, fold2.oos_end))
    spec_p = make_spec(poisoned, "ema_cross", params, trials=10, k=3)
    assert spec_c.folds == spec_p.folds
    url_c = run_search(spec_c, tmp_path / "c.journal")
    url_p = run_search(spec_p, tmp_path / "p.journal")
    for label in ("fold-1", "fold-2"):
        assert trials_of(url_c, "s", label) == trials_of(url_p, "s", label), label
    assert "PRUNED" in {s for _n, s, _p, _v in trials_of(url_c, "s", "fold-2")}
    assert trials_of(url_c, "s", "fold-3") != trials_of(url_p, "s", "fold-3")
    best = opt.best_trials(opt.open_storage(url_c), "s", spec_c)[1][1]
    oos_c = run_span(spec_c, best.params, fold2.oos_start, fold2.oos_end)[0]
    oos_p = run_span(spec_p, best.params, fold2.oos_start, fold2.oos_end)[0]
    assert oos_c.net_pnl != oos_p.net_pnl


def test_in_sample_runs_see_only_times_before_their_test_window(tmp_path: Path, monkeypatch):
    """Every event a trial's engine processes, recorded per fold: all before oos_start."""
    from tapedesk.engine.engine import Engine

    seen: list[int] = []
    real = Engine.process

    def recording(self, ev):
        seen.append(ev.ts)
        return real(self, ev)

    monkeypatch.setattr(Engine, "process", recording)
    data = write_slice(tmp_path / "d.csv", days=3)
    spec = make_spec(data, "ema_cross", ["fast=4..20"], trials=3, k=3, prune=False)
    url = f"journal:{tmp_path / 'x.journal'}"
    storage = opt.open_storage(url)
    opt.prepare(storage, "s", spec)
    dims = [Dimension.from_json(d) for d in spec.dims]
    for fold, sname in opt.study_names("s", spec):
        study = optuna.load_study(study_name=sname, storage=storage)
        while (trial := opt.pop_trial(study)) is not None:
            seen.clear()
            opt._evaluate(study, trial, spec, fold, dims, data)
            assert seen and max(seen) < fold.oos_start, fold.label
            assert min(seen) >= fold.is_start
