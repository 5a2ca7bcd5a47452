"""The one interface every venue implements: paper, Binance, and Binance on a local exchange.

A venue is an exchange as the engine sees it. Orders go in with ``submit`` (never blocks the
engine loop: a network venue does its I/O in tasks of its own); everything that happens to
them comes back through the ``VenueSink`` the engine binds, in the order it happened.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from tapedesk.engine.events import Fill, MarketEvent, OrderIntent, OrderUpdate, Position


class VenueSink(Protocol):
    """What the engine receives from a venue. A live venue also awaits the sink's
    ``journaled()``, when it has one, before sending an order (write-ahead: the engine's
    ``FillSide.journaled``)."""

    def on_fill(self, fill: Fill) -> None: ...

    def on_order_update(self, update: OrderUpdate) -> None: ...

    def on_funding(self, symbol: str, amount: Decimal, rate: float, ts: int) -> None:
        """A funding payment: ``amount`` is signed from the account's point of view."""

    def on_venue_error(self, text: str) -> None:
        """Something the trader must read (rejections are OrderUpdates, not this)."""


class Venue(Protocol):
    """Order reports, in the order they happened, for every order ``submit`` was given:

    - ``NEW`` once the venue accepted it (a protective order counts as protecting only
      from then on), ``PARTIALLY_FILLED``/``FILLED`` with ``Fill`` events (one per trade,
      each with its own ``trade_id``; a fill is never reported twice), ``CANCELED``,
      ``REJECTED`` (``reason`` carries the exchange code, e.g. ``-2021 ...``), ``EXPIRED``.
    - ``UNKNOWN`` when it cannot tell whether the order exists (5xx/timeout and look-ups by
      client id did not settle it). Not final: the desk treats an entry as possibly live.
      The venue keeps looking and later reports NEW/fills, or REJECTED when it is sure the
      order does not exist. A venue never re-sends an entry on its own.
    """

    name: str
    #: True when fills are simulated (paper, backtest); shown in the header and journal.
    simulated: bool
    #: Wallet balance in USDT, kept current by the venue (live: from ACCOUNT_UPDATE). A live
    #: engine sizes from this, never from ``paper.initial_balance``.
    balance: Decimal

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

    def available(self) -> Decimal:
        """Balance free for new isolated margin (what the margin rule checks)."""

    def track(self, intents: list[OrderIntent], fills: Any = (), unanswered: Any = ()) -> None:
        """After a restart: orders the journal says are open (restored exactly as sent) are
        the desk's again; their updates and fills, also those that happened while the desk
        was down, are reported under their client ids; ``fills`` the journal already holds
        are not reported again; ``unanswered`` were journaled before sending but never
        answered (one the venue cannot find was never sent). Called before ``start``."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...
