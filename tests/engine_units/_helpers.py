"""Small real parts shared by the engine unit specifications (no mocks of code under test)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from tapedesk.engine.events import (
    Bar,
    Fill,
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    Signal,
)
from tapedesk.engine.strategy import Strategy

MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00:00 UTC


def bar(i: int, o: float, h: float, low: float, c: float, *, symbol: str = "ETHUSDT",
        start: int = T0) -> Bar:
    """The i-th 1m bar after ``start``; ``ts`` is its close time as Binance sends it."""
    open_ts = start + i * MIN
    return Bar(symbol, open_ts, open_ts + MIN - 1, o, h, low, c, 1.0)


def entry_signal(side: Side = Side.LONG, entry: float = 100.0, stop: float = 99.8,
                 target: float = 0.0, *, symbol: str = "ETHUSDT", ts: int = T0) -> Signal:
    return Signal("spec", symbol, side, ts, entry, stop, target)


@dataclass
class RecordingSink:
    """A VenueSink that remembers everything the venue told it, in order."""

    fills: list[Fill] = field(default_factory=list)
    updates: list[OrderUpdate] = field(default_factory=list)
    funding: list[tuple[str, Decimal, float, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates.append(update)

    def on_funding(self, symbol: str, amount: Decimal, rate: float, ts: int) -> None:
        self.funding.append((symbol, amount, rate, ts))

    def on_venue_error(self, text: str) -> None:
        self.errors.append(text)

    def status_of(self, client_id: str) -> list[OrderStatus]:
        return [u.status for u in self.updates if u.client_id == client_id]

    def reason_of(self, client_id: str) -> str:
        return " ".join(u.reason for u in self.updates if u.client_id == client_id)


def order(cid: str, side: str, typ: OrderType = OrderType.MARKET, qty: str = "1",
          role: OrderRole = OrderRole.ENTRY, ts: int = T0, *, price: str | None = None,
          stop: str | None = None, reduce_only: bool = False,
          symbol: str = "ETHUSDT") -> OrderIntent:
    return OrderIntent(cid, symbol, side, typ, Decimal(qty), role, ts,
                       price=Decimal(price) if price else None,
                       stop_price=Decimal(stop) if stop else None, reduce_only=reduce_only)


class ScriptedStrategy(Strategy):
    """Answers bar number n (counting from 0) with ``script[n](bar)``; counts every call."""

    name = "scripted"

    def __init__(self, script: dict[int, Callable[[Bar], Signal | None]] | None = None) -> None:
        super().__init__()
        self.script = dict(script or {})
        self.calls = 0

    def on_bar(self, bar: Bar) -> Signal | None:
        n = self.calls
        self.calls += 1
        make = self.script.get(n)
        return make(bar) if make else None


def long_at_close(stop_pct: float = 0.2, target_pct: float = 0.4) -> Callable[[Bar], Signal]:
    def make(b: Bar) -> Signal:
        return Signal(ScriptedStrategy.name, b.symbol, Side.LONG, b.ts, b.close,
                      round(b.close * (1 - stop_pct / 100), 2),
                      round(b.close * (1 + target_pct / 100), 2))

    return make
