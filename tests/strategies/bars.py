"""Handcrafted bars for the strategy specs: readable price paths, 1m, UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from tapedesk.engine.events import Bar

MIN = 60_000


def utc_ms(text: str) -> int:
    """'2024-01-02 07:30' → epoch ms (UTC)."""
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp() * 1000)


def bar(open_ts: int, o: float, h: float, lo: float, c: float, symbol: str = "BTCUSDT") -> Bar:
    return Bar(symbol, open_ts, open_ts + MIN - 1, o, h, lo, c, 1.0)


def flat(
    start: int, n: int, price: float, wiggle: float = 1.0, symbol: str = "BTCUSDT"
) -> list[Bar]:
    """n quiet 1m bars oscillating ±wiggle around price (a range, no swing extremes)."""
    out = []
    for i in range(n):
        c = price + (wiggle if i % 2 else -wiggle) * 0.5
        out.append(bar(start + i * MIN, price, price + wiggle, price - wiggle, c, symbol))
    return out
