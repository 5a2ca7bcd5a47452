"""Plain text formatting of money, prices and durations for the panes (no Textual here)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal


def money(value: Decimal | float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    v = float(value)
    text = f"{abs(v):,.2f}"
    if v < 0:
        return f"-${text}"
    return f"+${text}" if signed else f"${text}"


def price(value: Decimal | float | None) -> str:
    if value is None or value == 0:
        return "—"
    v = float(value)
    return f"{v:,.2f}" if v >= 100 else f"{v:,.4f}"


def qty(value: Decimal | float) -> str:
    return f"{Decimal(str(value)).normalize():f}"


def clock(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%H:%M:%S")


def stamp(ts_ms: int) -> str:
    """Month-day and time to the minute: a trade list spans days, and 80 columns are tight
    (the year and the seconds are in the trade's story)."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%m-%d %H:%M")


def duration(ms: int) -> str:
    """Compact h/m/s; negative durations (clock skew) read as 0s."""
    s = max(0, ms // 1000)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m:02d}m"
    if m:
        return f"{m}m{sec:02d}s"
    return f"{sec}s"


def age(ms: int | None) -> str:
    if ms is None:
        return "no data"
    if ms < 1000:
        return f"{ms}ms"
    return duration(ms)
