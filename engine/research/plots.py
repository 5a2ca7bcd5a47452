"""Equity and drawdown in the terminal (plotext), for ``tapedesk backtest --plot``.

Returns the drawing as a string (``plotext.build``) so the CLI prints it and tests can
check it without a terminal; nothing here writes to stdout by itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from tapedesk.engine.metrics import drawdowns, max_drawdown

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def drawdown_curve(equity: Sequence[float], start: float = float("-inf")) -> list[float]:
    """Drawdown from the running peak (from ``start``), in % (0 or negative), per sample:
    engine.metrics.drawdowns, the same numbers the metrics table reports."""
    return [-pct if pct else 0.0 for _dd, pct in drawdowns(equity, start)]


def _thin(points: Sequence[tuple[int, float]], limit: int) -> list[tuple[int, float]]:
    """At most ``limit`` points (keeping the last), so a million samples plot quickly."""
    n = len(points)
    if n <= limit:
        return list(points)
    step = n / limit
    out = [points[int(i * step)] for i in range(limit)]
    out[-1] = points[-1]
    return out


def equity_plot(
    curve: Sequence[tuple[int, float]],
    title: str = "Equity",
    width: int = 100,
    height: int = 30,
    color: bool = False,
    start: float = float("-inf"),
) -> str:
    """Equity (top) and drawdown % (bottom) from ``(ts_ms, equity)`` samples, as text.

    The worst drawdown in the title is taken over every sample from ``start`` (the initial
    balance), as the metrics table takes it; only the drawing is thinned."""
    import plotext as plt

    plt.clear_figure()
    if not curve:
        return f"{title}: no equity samples to plot\n"
    pts = _thin(curve, 2000)
    xs = [ts / 1000.0 for ts, _ in pts]
    eq = [e for _, e in pts]
    dd = drawdown_curve(eq, start)
    worst = max_drawdown((e for _, e in curve), start)[1]
    plt.subplots(2, 1)
    plt.plotsize(width, height)
    if not color:
        plt.theme("clear")
    labels_at = [xs[0], xs[len(xs) // 2], xs[-1]]
    labels = [datetime.fromtimestamp(x, UTC).strftime("%Y-%m-%d %H:%M") for x in labels_at]
    plt.subplot(1, 1)
    plt.plot(xs, eq, marker="braille")
    plt.title(f"{title}: {eq[0]:,.2f} → {eq[-1]:,.2f}")
    plt.xticks(labels_at, labels)
    plt.subplot(2, 1)
    plt.plot(xs, dd, marker="braille")
    plt.title(f"Drawdown % (worst {-worst:.2f} %)")
    plt.xticks(labels_at, labels)
    text = plt.build()
    plt.clear_figure()
    return text if color else _ANSI.sub("", text)
