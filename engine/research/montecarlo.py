"""Monte Carlo over a backtest's trades: how bad could the same edge have looked?

One backtest is one ordering of one sample of trades. Resampling the trade P&Ls N times
(bootstrap: draw with replacement, same count) gives a distribution of final P&L and of
maximum drawdown; ``method="shuffle"`` only reorders (final P&L is then fixed, drawdown
varies), which isolates sequence risk. Percentiles are reported, not a single number,
because the tail is the point. Seeded, so a report is reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from tapedesk.engine.metrics import max_drawdown as _equity_drawdown

PERCENTILES = (5, 25, 50, 75, 95)


def max_drawdown(pnls: Sequence[float], start_equity: float = 0.0) -> float:
    """Largest peak-to-trough fall of the cumulative P&L (money): engine.metrics' drawdown
    over ``start_equity`` + running P&L."""
    return _equity_drawdown(accumulate(pnls, initial=start_equity), start_equity)[0]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of already sorted values."""
    n = len(sorted_values)
    if n == 0:
        return 0.0
    pos = (n - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(slots=True)
class MonteCarloResult:
    runs: int
    trades: int
    method: str
    start_equity: float
    final_pnl: dict[int, float] = field(default_factory=dict)
    max_drawdown: dict[int, float] = field(default_factory=dict)
    max_drawdown_pct: dict[int, float] = field(default_factory=dict)
    prob_loss: float = 0.0

    def table(self) -> str:
        """A plain-text table for the terminal and the reports."""
        head = "percentile" + "".join(f"{f'p{q}':>12}" for q in PERCENTILES)
        rows = [
            f"Monte Carlo: {self.runs:,} {self.method} runs of {self.trades:,} trades",
            head,
            "final P&L " + "".join(f"{self.final_pnl[q]:>12,.2f}" for q in PERCENTILES),
            "max DD    " + "".join(f"{self.max_drawdown[q]:>12,.2f}" for q in PERCENTILES),
        ]
        if self.start_equity > 0:
            rows.append(
                "max DD %  " + "".join(f"{self.max_drawdown_pct[q]:>11.2f}%" for q in PERCENTILES)
            )
        rows.append(f"chance the run ends in a loss: {self.prob_loss * 100:.1f} %")
        return "\n".join(rows)


def monte_carlo(
    pnls: Sequence[float],
    runs: int = 1000,
    *,
    seed: int = 0,
    start_equity: float = 0.0,
    method: str = "bootstrap",
) -> MonteCarloResult:
    """Resample the trade P&L sequence ``runs`` times; percentiles of final P&L and max DD.

    ``pnls`` are net P&Ls per closed trade in order (e.g. ``float(rt.pnl)`` of RoundTrips).
    ``start_equity`` > 0 also gives drawdown as % of the running peak equity.
    """
    if runs < 1:
        raise ValueError(f"--monte-carlo runs must be >= 1, got {runs}")
    if method not in ("bootstrap", "shuffle"):
        raise ValueError(f"Monte Carlo method must be bootstrap or shuffle, got {method!r}")
    values = [float(p) for p in pnls]
    n = len(values)
    result = MonteCarloResult(runs=runs, trades=n, method=method, start_equity=start_equity)
    if n == 0:
        for q in PERCENTILES:
            result.final_pnl[q] = result.max_drawdown[q] = result.max_drawdown_pct[q] = 0.0
        return result
    rng = random.Random(seed)
    finals: list[float] = []
    dds: list[float] = []
    dd_pcts: list[float] = []
    for _ in range(runs):
        if method == "bootstrap":
            sample = rng.choices(values, k=n)
        else:
            sample = values[:]
            rng.shuffle(sample)
        worst, worst_pct = _equity_drawdown(accumulate(sample, initial=start_equity), start_equity)
        finals.append(sum(sample))
        dds.append(worst)
        dd_pcts.append(worst_pct)
    finals.sort()
    dds.sort()
    dd_pcts.sort()
    for q in PERCENTILES:
        result.final_pnl[q] = percentile(finals, q)
        result.max_drawdown[q] = percentile(dds, q)
        result.max_drawdown_pct[q] = percentile(dd_pcts, q)
    result.prob_loss = sum(1 for f in finals if f < 0) / runs
    return result
