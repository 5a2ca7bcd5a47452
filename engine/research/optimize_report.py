"""The report ``tapedesk optimize`` prints: in-sample beside out-of-sample, and warnings.

Out-of-sample figures come from running each fold's chosen parameters on its test window
(after the search, which never saw it); the combined line chains the test windows' trades
and equity into one account. The warnings say when a result is probably overfitted:

- **too many trials for the trades**: trials per fold ≥ the chosen parameters' in-sample
  trades — the best of that many draws is largely luck;
- **unstable parameters**: a parameter's chosen values spread over more than half of its
  searched range across folds (choices: differ in more than half of the folds);
- **OOS far below IS**: the out-of-sample objective is below half the in-sample one, or of
  the opposite sign (net P&L compared per day, since the windows differ in length).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tapedesk.engine.metrics import DAY_MS, Metrics, compute_metrics
from tapedesk.engine.research.objectives import SearchSpec, run_span, score
from tapedesk.engine.research.search_space import Dimension
from tapedesk.engine.research.walk_forward import Fold

if TYPE_CHECKING:
    from tapedesk.engine.research.bar_cache import Cache

NOT_ADVICE = ("Hypothetical results on past data with simulated fills: not investment advice, "
              "and no promise about the future.")


@dataclass
class FoldRow:
    fold: Fold
    params: dict[str, Any] | None
    is_value: float | None
    is_figures: dict[str, Any]
    oos: Metrics | None
    counts: dict[str, int]
    oos_value: float | None = None


@dataclass
class Report:
    name: str
    spec: SearchSpec
    rows: list[FoldRow]
    combined: Metrics | None
    equity: list[tuple[int, float]]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "study": self.name,
            "strategy": self.spec.strategy,
            "objective": self.spec.objective,
            "walk_forward": "anchored" if self.rows and self.rows[0].fold.oos_start else "none",
            "folds": [{"fold": r.fold.label, **r.fold.to_json(), "params": r.params,
                       "in_sample": {"value": r.is_value, **r.is_figures},
                       "out_of_sample": None if r.oos is None else
                       {"value": r.oos_value, **_figures(r.oos)}, "trials": r.counts}
                      for r in self.rows],
            "combined_out_of_sample": None if self.combined is None else _figures(self.combined),
            "warnings": self.warnings,
            "note": NOT_ADVICE,
        }


def _figures(m: Metrics) -> dict[str, Any]:
    return {"trades": m.trades, "net": round(m.net_pnl, 2), "sharpe": m.sharpe,
            "calmar": m.calmar, "expectancy": m.expectancy, "max_dd_pct": m.max_drawdown_pct}


def build_report(name: str, spec: SearchSpec, bests: list[tuple[Fold, Any, dict[str, int]]],
                 data: Path | None = None, cache: Cache | None = None) -> Report:
    """Score each fold's best parameters on its test window and gather the warnings."""
    rows: list[FoldRow] = []
    trades: list[Any] = []
    equity: list[tuple[int, float]] = []
    initial = None
    offset = 0.0
    for fold, best, counts in bests:
        if best is None:
            rows.append(FoldRow(fold, None, None, {}, None, counts))
            continue
        row = FoldRow(fold, dict(best.params), best.value, dict(best.user_attrs.get("is", {})),
                      None, counts)
        if fold.oos_start is not None and fold.oos_end is not None:
            m, t, eq = run_span(spec, dict(best.params), fold.oos_start, fold.oos_end,
                                data=data, cache=cache)
            row.oos, row.oos_value = m, score(m, spec.objective)
            initial = m.initial_balance if initial is None else initial
            trades.extend(t)
            equity.extend((ts, v + offset) for ts, v in eq)
            offset += m.final_equity - m.initial_balance
        rows.append(row)
    combined = None
    if initial is not None:
        combined = compute_metrics(trades, equity, initial, 0, 0)
    report = Report(name, spec, rows, combined, equity)
    report.warnings = overfit_warnings(report)
    return report


def overfit_warnings(report: Report) -> list[str]:
    spec, out = report.spec, []
    dims = [Dimension.from_json(d) for d in spec.dims]
    chosen = [r for r in report.rows if r.params is not None]
    if not chosen:
        return [f"no trial reached {spec.min_trades} in-sample trades (--min-trades): "
                "nothing to choose"]
    thin = [r for r in chosen if spec.trials >= int(r.is_figures.get("trades", 0) or 0)]
    if thin:
        r = min(thin, key=lambda r: r.is_figures.get("trades", 0))
        out.append(f"too many trials for the trades: {spec.trials} trials per search against "
                   f"{r.is_figures.get('trades', 0)} in-sample trades ({r.fold.label}); the "
                   "best of that many tries is mostly luck")
    if len(chosen) > 1:
        for d in dims:
            spread = d.spread([r.params[d.name] for r in chosen if d.name in r.params])
            if spread > 0.5:
                vals = ", ".join(str(r.params.get(d.name)) for r in chosen)
                out.append(f"unstable parameter {d.name}: chosen {vals} across folds "
                           f"({spread:.0%} of the searched range {d.describe()})")
    for r in chosen:
        if r.oos is None or r.is_value is None:
            continue
        is_v, oos_v = r.is_value, r.oos_value or 0.0
        if spec.objective == "net":  # per day: an in-sample span is longer than its test
            is_v /= max(1.0, (r.fold.is_end - r.fold.is_start) / DAY_MS)
            oos_v /= max(1.0, ((r.fold.oos_end or 0) - (r.fold.oos_start or 0)) / DAY_MS)
        if (is_v > 0 and oos_v < is_v / 2) or (is_v < 0 and oos_v < is_v * 2):
            out.append(f"out-of-sample far below in-sample in {r.fold.label}: "
                       f"{spec.objective} {_num(oos_v)} vs {_num(is_v)}"
                       f"{' per day' if spec.objective == 'net' else ''}")
    if report.rows and report.rows[0].fold.oos_start is None:
        out.append("IN-SAMPLE ONLY: without --walk-forward every figure here was fitted to "
                   "the same data it is measured on")
    return out


def _num(v: float | None) -> str:
    if v is None:
        return "n/a"
    if v == float("-inf"):
        return "-inf"
    return f"{v:,.2f}"


def _param(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def _day(ts: int | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%m-%d %H:%M")


def format_report(report: Report) -> str:
    spec = report.spec
    lines = [f"study {report.name}: {spec.strategy}, objective {spec.objective}, "
             f"{spec.trials} trials per search"]
    wf = report.rows and report.rows[0].fold.oos_start is not None
    lines.append("walk-forward: anchored, " + (f"{len(report.rows)} folds (each searches "
                 "everything before its test window)" if wf else "none (in-sample only)"))
    head = (f"{'fold':<7} {'in-sample':<25} {'out-of-sample':<25} "
            f"{'IS ' + spec.objective:>12} {'OOS ' + spec.objective:>12} {'IS net':>10} "
            f"{'OOS net':>10} {'IS tr':>6} {'OOS tr':>6}")
    lines += ["", head, "-" * len(head)]
    for r in report.rows:
        f = r.fold
        lines.append(
            f"{f.label:<7} {_day(f.is_start) + ' → ' + _day(f.is_end):<25} "
            f"{_day(f.oos_start) + ' → ' + _day(f.oos_end) if wf else '-':<25} "
            f"{_num(r.is_value):>12} {_num(r.oos_value) if r.oos else '-':>12} "
            f"{_num(r.is_figures.get('net')):>10} "
            f"{_num(r.oos.net_pnl) if r.oos else '-':>10} "
            f"{r.is_figures.get('trades', '-')!s:>6} {r.oos.trades if r.oos else '-'!s:>6}")
    if report.combined is not None:
        c = report.combined
        lines.append(f"{'OOS all':<7} {'':<25} {_day(c.start_ts) + ' → ' + _day(c.end_ts):<25} "
                     f"{'':>12} {_num(score(c, spec.objective)):>12} {'':>10} "
                     f"{_num(c.net_pnl):>10} {'':>6} {c.trades:>6}")
        lines.append(f"out-of-sample combined: net {_num(c.net_pnl)}, sharpe {_num(c.sharpe)}, "
                     f"max drawdown {c.max_drawdown_pct:.2f} %, {c.trades:,} trades")
    lines.append("")
    lines.append("chosen parameters:")
    for r in report.rows:
        shown = ", ".join(f"{k}={_param(v)}" for k, v in (r.params or {}).items()) or "none"
        counts = ", ".join(f"{n} {k}" for k, n in sorted(r.counts.items()))
        lines.append(f"  {r.fold.label}: {shown}  ({counts})")
    if report.warnings:
        lines.append("")
        lines += [f"WARNING: {w}" for w in report.warnings]
    lines += ["", NOT_ADVICE]
    return "\n".join(lines)
