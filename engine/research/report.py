"""``tapedesk backtest --report FILE.html|.md``: one file a person can read and keep.

Per strategy: parameters, metrics, trade list (with the strategy's reasons for exits),
and the equity curve (an inline SVG in HTML); then the combined run and, when asked,
the Monte Carlo table. Input is plain data (:class:`StrategyRun`) so the backtest, the
CLI and the tests can all build one without depending on each other's internals.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tapedesk.engine.events import RoundTrip
from tapedesk.engine.metrics import is_loss, is_win
from tapedesk.engine.metrics import max_drawdown as equity_drawdown
from tapedesk.engine.research.montecarlo import MonteCarloResult, max_drawdown

DISCLAIMER = (
    "Backtest results are hypothetical: past data, simulated fills, no guarantee. "
    "This is not investment advice."
)


@dataclass(slots=True)
class StrategyRun:
    """One strategy's backtest (or the combined run, name ``"combined"``)."""

    name: str
    trades: list[RoundTrip]
    equity_curve: list[tuple[int, float]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def summarize(trades: Sequence[RoundTrip]) -> dict[str, Any]:
    """Basic metrics straight from the trade list (used when the caller passes none)."""
    pnls = [float(t.pnl) for t in trades]
    wins = [p for p in pnls if is_win(p)]
    losses = [p for p in pnls if is_loss(p)]  # break-even trades are neither (metrics' rule)
    rs = [r for t in trades if (r := t.r_multiple) is not None]
    gross_loss = -sum(losses)
    return {
        "trades": len(pnls),
        "net P&L": round(sum(pnls), 2),
        "fees": round(sum(float(t.fees) for t in trades), 2),
        "funding": round(sum(float(t.funding) for t in trades), 2),
        "win rate %": round(100.0 * len(wins) / len(pnls), 1) if pnls else 0.0,
        "profit factor": round(sum(wins) / gross_loss, 2) if gross_loss > 0 else None,
        "avg R": round(sum(rs) / len(rs), 2) if rs else None,
        "max drawdown": round(max_drawdown(pnls), 2),
    }


def _ts(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return str(v)


def _trade_rows(trades: Sequence[RoundTrip], limit: int) -> list[list[str]]:
    rows = []
    for t in trades[:limit]:
        r = t.r_multiple
        rows.append(
            [
                _ts(t.entry_ts),
                _ts(t.exit_ts),
                t.symbol,
                str(t.side),
                f"{t.entry_price}",
                f"{t.exit_price}",
                f"{float(t.pnl):,.2f}",
                f"{r:.2f}" if r is not None else "–",
                t.reason,
            ]
        )
    return rows


TRADE_HEAD = ["entry", "exit", "symbol", "side", "entry px", "exit px", "P&L", "R", "why closed"]


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(out)


def render_markdown(
    runs: Sequence[StrategyRun],
    monte: MonteCarloResult | None = None,
    title: str = "Tapedesk backtest",
    max_trades: int = 200,
) -> str:
    parts = [f"# {title}", "", f"_{DISCLAIMER}_", ""]
    for run in runs:
        metrics = run.metrics or summarize(run.trades)
        parts += [f"## {run.name}", ""]
        if run.params:
            parts += ["Parameters: " + ", ".join(f"`{k}={v}`" for k, v in run.params.items()), ""]
        parts += [_md_table(["metric", "value"], [[k, _fmt(v)] for k, v in metrics.items()]), ""]
        if run.equity_curve:
            eq = [e for _, e in run.equity_curve]
            start = metrics.get("initial_balance", eq[0])
            dd = equity_drawdown(eq, start)[1]
            parts += [f"Equity {eq[0]:,.2f} → {eq[-1]:,.2f}; worst drawdown {dd:.2f} %.", ""]
        if run.trades:
            shown = min(len(run.trades), max_trades)
            parts += [f"Trades (first {shown:,} of {len(run.trades):,}):", ""]
            parts += [_md_table(TRADE_HEAD, _trade_rows(run.trades, max_trades)), ""]
    if monte is not None:
        parts += ["## Monte Carlo", "", "```", monte.table(), "```", ""]
    return "\n".join(parts)


def _svg(curve: Sequence[tuple[int, float]], width: int = 720, height: int = 180) -> str:
    if len(curve) < 2:
        return ""
    step = max(1, len(curve) // 1500)
    pts = list(curve[::step])
    if pts[-1] is not curve[-1]:
        pts.append(curve[-1])
    t0, t1 = pts[0][0], pts[-1][0]
    lo = min(e for _, e in pts)
    hi = max(e for _, e in pts)
    span_t = (t1 - t0) or 1
    span_e = (hi - lo) or 1.0
    w = width - 10
    h = height - 10
    coords = " ".join(
        f"{(t - t0) / span_t * w + 5:.1f},{height - 5 - (e - lo) / span_e * h:.1f}" for t, e in pts
    )
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="equity curve">'
        f'<rect width="100%" height="100%" fill="#fafafa" stroke="#ccc"/>'
        f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{coords}"/>'
        f'<text x="8" y="16" font-size="12">{hi:,.2f}</text>'
        f'<text x="8" y="{height - 8}" font-size="12">{lo:,.2f}</text></svg>'
    )


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def render_html(
    runs: Sequence[StrategyRun],
    monte: MonteCarloResult | None = None,
    title: str = "Tapedesk backtest",
    max_trades: int = 200,
) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-size:13px}"
        "td:last-child{text-align:left}.note{color:#666}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(DISCLAIMER)}</p>",
    ]
    for run in runs:
        metrics = run.metrics or summarize(run.trades)
        parts.append(f"<h2>{html.escape(run.name)}</h2>")
        if run.params:
            text = ", ".join(f"{k}={v}" for k, v in run.params.items())
            parts.append(f"<p>Parameters: <code>{html.escape(text)}</code></p>")
        parts.append(_html_table(["metric", "value"], [[k, _fmt(v)] for k, v in metrics.items()]))
        parts.append(_svg(run.equity_curve))
        if run.trades:
            shown = min(len(run.trades), max_trades)
            parts.append(f"<p>Trades (first {shown:,} of {len(run.trades):,}):</p>")
            parts.append(_html_table(TRADE_HEAD, _trade_rows(run.trades, max_trades)))
    if monte is not None:
        parts.append(f"<h2>Monte Carlo</h2><pre>{html.escape(monte.table())}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    path: str | Path,
    runs: Sequence[StrategyRun],
    monte: MonteCarloResult | None = None,
    title: str = "Tapedesk backtest",
) -> Path:
    """Write ``path`` as HTML or Markdown by its suffix; a clear error for anything else."""
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix in (".html", ".htm"):
        text = render_html(runs, monte, title)
    elif suffix in (".md", ".markdown"):
        text = render_markdown(runs, monte, title)
    else:
        raise ValueError(f"--report: {path} must end in .html or .md")
    if not p.parent.exists():
        raise ValueError(f"--report: folder {p.parent} does not exist")
    p.write_text(text, encoding="utf-8")
    return p
