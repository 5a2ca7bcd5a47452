"""What one optimize trial runs: a streamed backtest over a time span, scored by an objective.

The objectives are the backtest's own metrics (engine.metrics, one definition each):

- ``sharpe``: daily-return Sharpe (√365); ``calmar``: CAGR % ÷ max drawdown %;
- ``net``: net P&L after fees and funding; ``expectancy``: net P&L per trade.

An objective the metrics leave undefined (no trade, one day of returns, no drawdown)
scores 0: no evidence either way. A run with fewer than ``min_trades`` trades scores
``-inf`` so it can never be chosen: a search rewards parameters that trade rarely and get
lucky otherwise. Each run streams the file (iter_events): one engine, flat memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tapedesk.engine.metrics import Metrics

if TYPE_CHECKING:
    from tapedesk.engine.research.bar_cache import Cache

OBJECTIVES = ("sharpe", "net", "calmar", "expectancy")


def score(metrics: Metrics, objective: str) -> float:
    """The objective's value; undefined → 0.0 (see the module docstring)."""
    value = {
        "sharpe": metrics.sharpe,
        "net": metrics.net_pnl,
        "calmar": metrics.calmar,
        "expectancy": metrics.expectancy,
    }[objective]
    return float(value) if value is not None else 0.0


@dataclass
class SearchSpec:
    """Everything a worker needs to run trials, stored in the study so a worker on another
    machine runs exactly the same search (it may only point ``data`` at its own copy)."""

    strategy: str
    dims: list[dict[str, Any]]
    fixed: dict[str, Any]
    objective: str
    data: str
    data_sha256: str
    fmt: str
    symbol: str | None
    folds: list[dict[str, Any]]
    trials: int
    seed: int | None
    min_trades: int
    prune: bool
    backtest: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SearchSpec:
        return cls(**d)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Stop(Exception):
    """Raised by a checkpoint callback to end a run early (a pruned trial)."""


def run_span(
    spec: SearchSpec,
    params: dict[str, Any],
    start: int,
    end: int,
    checkpoints: tuple[int, ...] = (),
    on_checkpoint: Callable[[int, float], None] | None = None,
    data: Path | None = None,
    cache: Cache | None = None,
) -> tuple[Metrics, list[Any], list[tuple[int, float]]]:
    """Backtest ``spec.strategy`` with ``params`` on events in ``[start, end)``.

    At each checkpoint time before ``end`` the objective so far (closed trades and equity
    samples up to there) goes to ``on_checkpoint(step, value)``, which may raise
    :class:`Stop`. Raises StrategyError for parameters the strategy refuses.
    """
    from tapedesk.engine.backtest import _close_at_end, _start_sync, build_backtest_engine
    from tapedesk.engine.config import DeskConfig
    from tapedesk.engine.events import Kind
    from tapedesk.engine.feeds.files import iter_events
    from tapedesk.engine.metrics import compute_metrics
    from tapedesk.engine.strategy import create

    config = DeskConfig.model_validate(spec.config) if spec.config else DeskConfig()
    strategy = create(spec.strategy, (spec.symbol,) if spec.symbol else None,
                      **{**spec.fixed, **params})
    opts = dict(spec.backtest)
    for key in ("initial_balance", "fixed_qty"):
        if opts.get(key) is not None:
            opts[key] = Decimal(opts[key])
    # A trial reads no explanation line: none is worded (lazy) or kept.
    engine, _labels = build_backtest_engine([strategy], config, keep_explanations=0, **opts)
    _start_sync(engine)
    engine.lazy_explanations = True
    engine.publish = False
    process = engine.process
    initial = float(engine.initial_balance)
    if cache is not None:  # the same bars, packed (research.bar_cache)
        from tapedesk.engine.research.bar_cache import iter_bars

        events: Any = iter_bars(cache, start, end)
    else:
        events = iter_events(data or Path(spec.data), spec.symbol, start, end,
                             lambda _w: None, spec.fmt)
    bars_only = spec.fmt == "ws_capture" and not (
        strategy.handles("on_quote") or strategy.handles("on_trade"))
    pending = [c for c in checkpoints if c < end]
    step = 0
    for ev in events:
        if bars_only and ev.kind is not Kind.BAR:
            continue
        while pending and ev.ts >= pending[0]:
            pending.pop(0)
            if on_checkpoint is not None:
                m = compute_metrics(engine.trades, engine.equity_samples, initial,
                                    engine.bars_in_position, engine.bars_seen)
                on_checkpoint(step, score(m, spec.objective))
            step += 1
        process(ev)
    _close_at_end(engine)
    metrics = compute_metrics(engine.trades, engine.equity_samples, initial,
                              engine.bars_in_position, engine.bars_seen)
    return metrics, engine.trades, engine.equity_samples


def final_value(metrics: Metrics, spec: SearchSpec) -> float:
    """The trial's value: the objective, or -inf under ``min_trades`` trades."""
    if metrics.trades < spec.min_trades:
        return float("-inf")
    return score(metrics, spec.objective)
