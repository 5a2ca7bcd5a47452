from __future__ import annotations

from tapedesk.engine.events import Bar

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000


def bar(i: int, o: float, h: float, l: float, c: float, symbol: str = "TESTUSDT") -> Bar:  # noqa: E741
    """The i-th one-minute bar from T0 (ts = close time, as Binance's close_time)."""
    return Bar(symbol, T0 + i * MIN, T0 + (i + 1) * MIN - 1, o, h, l, c, 1.0)


def flat_bars(n: int, price: float = 100.0, start: int = 0) -> list[Bar]:
    return [bar(start + i, price, price, price, price) for i in range(n)]
