"""Numbers as a trader writes them in notes: 41,230.5 and 0.08 %."""

from __future__ import annotations


def price(x: float) -> str:
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.1f}"
    if ax >= 10:
        return f"{x:,.2f}"
    if ax >= 1:
        return f"{x:,.4f}"
    return f"{x:.6f}"


def pct(x: float) -> str:
    """A fraction (0.0021) as '0.21 %'."""
    return f"{x * 100:.2f} %"
