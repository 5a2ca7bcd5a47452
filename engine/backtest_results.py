"""Saved backtest results: one JSON file per run under <data dir>/backtests, and two of them
side by side (``tapedesk backtest --compare A.json B.json``).

A result is the ``--json`` document plus ``run`` (data file, strategies, parameters, the
command line), so a file says by itself how it was made.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tapedesk.engine import indented_json
from tapedesk.engine.cli import UserError

#: The metrics rows --compare shows, in order: (key, label, format).
ROWS = (
    ("net_pnl", "net P&L", "{:+,.2f}"),
    ("gross_pnl", "gross P&L", "{:+,.2f}"),
    ("fees", "fees", "{:,.2f}"),
    ("funding", "funding", "{:+,.2f}"),
    ("trades", "trades", "{:,}"),
    ("fills", "fills", "{:,}"),
    ("win_rate", "win rate %", "{:.1f}"),
    ("profit_factor", "profit factor", "{:.2f}"),
    ("expectancy", "expectancy / trade", "{:+,.2f}"),
    ("max_drawdown_pct", "max drawdown %", "{:.2f}"),
    ("return_pct", "return %", "{:+.2f}"),
    ("cagr_pct", "CAGR %", "{:+,.2f}"),
    ("calmar", "Calmar", "{:.2f}"),
    ("sharpe", "sharpe", "{:.2f}"),
    ("sortino", "sortino", "{:.2f}"),
    ("exposure_pct", "exposure %", "{:.1f}"),
    ("total_bars", "bars", "{:,}"),
)


def save(doc: dict[str, Any], data_dir: Path) -> Path:
    """Write ``doc`` as <data dir>/backtests/<UTC time>-<strategies>.json; never overwrite.

    Written as it is encoded (``indented_json.dump``): a ``Stream`` of trades in ``doc``
    never becomes one big text in memory."""
    folder = data_dir / "backtests"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    names = "+".join(doc.get("run", {}).get("strategies", [])) or "backtest"
    for n in range(1000):
        path = folder / f"{stamp}-{names[:60]}{f'-{n}' if n else ''}.json"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                indented_json.dump(doc, fh.write, 1)  # json.dump(doc, fh, indent=1, default=str)
        except BaseException:  # disk full, Ctrl-C mid-way: leave no cut-off result behind
            path.unlink(missing_ok=True)
            raise
        return path
    raise OSError(f"{folder}: too many results saved in the same second")


def load(path: Path) -> dict[str, Any]:
    """A saved result; one clear line for a missing, unreadable or foreign file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--compare: no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--compare: cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"--compare: {path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict):
        raise UserError(f"--compare: {path} is not a saved backtest result (no metrics)")
    return doc


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "n/a"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def compare(a_path: Path, b_path: Path) -> str:
    """Two saved results side by side, with B − A for the numeric rows."""
    a, b = load(a_path), load(b_path)
    table = [("metric", "A", "B", "B - A")]
    for key, label, fmt in ROWS:
        va, vb = a["metrics"].get(key), b["metrics"].get(key)
        diff = (_cell(vb - va, fmt if "+" in fmt else fmt.replace("{:", "{:+"))
                if isinstance(va, int | float) and isinstance(vb, int | float) else "")
        table.append((label, _cell(va, fmt), _cell(vb, fmt), diff))
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = [f"A: {a_path}", f"   {' '.join(a.get('run', {}).get('command', []))}",
             f"B: {b_path}", f"   {' '.join(b.get('run', {}).get('command', []))}", ""]
    for r in table:
        lines.append("  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in
                                                           zip(r[1:], widths[1:], strict=True)]))
    return "\n".join(lines)
