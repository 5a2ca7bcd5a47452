"""The one interface every venue implements: paper, Binance, and Binance on a local exchange.

A venue is an exchange as the engine sees it. Orders go in with ``submit`` (never blocks the
engine loop: a network venue does its I/O in tasks of its own); everything that happens to
them comes back through the ``VenueSink`` the engine binds, in the order it happened.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from tapedesk.engine.events import Fill, MarketEvent, OrderIntent, OrderUpdate, Position


class VenueSink(Protocol):
    """What the engine receives from a venue."""

    def on_fill(self, fill: Fill) -> None: ...

    def on_order_update(self, update: OrderUpdate) -> None: ...

    def on_funding(self, symbol: str, amount: Decimal, rate: float, ts: int) -> None:
        """A funding payment: ``amount`` is signed from the account's point of view."""

    def on_venue_error(self, text: str) -> None:
        """Something the trader must read (rejections are OrderUpdates, not this)."""


class Venue(Protocol):
    name: str
    #: True when fills are simulated (paper, backtest); shown in the header and journal.
    simulated: bool

    def bind(self, sink: VenueSink) -> None: ...

    def on_market(self, event: MarketEvent) -> None:
        """Market data in: a paper venue fills and triggers here; a real venue ignores it."""

    def submit(self, intent: OrderIntent) -> None: ...

    def cancel(self, symbol: str, client_id: str) -> None: ...

    async def cancel_all(self, symbol: str | None = None) -> None:
        """Cancel every open order, regular *and* conditional (algo) ones."""

    async def fetch_positions(self) -> dict[str, Position]:
        """The venue's own word on open positions (used to verify flat)."""

    async def fetch_open_orders(self) -> list[OrderIntent]:
        """The venue's open orders, conditional ones included."""

    async def fetch_balance(self) -> Decimal:
        """Wallet balance in USDT."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...
