"""PaperVenue with the exchange behaviours the order owner must survive, scripted per test.

Real paper-venue books and fills; only the *delivery* changes: a market order filled in
several trades, an order rejected with a Binance code, an acknowledgement that comes later,
an entry whose outcome is unknown. Nothing here mocks the code under test.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from tapedesk.engine.events import (
    Fill,
    Liquidity,
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderUpdate,
)
from tapedesk.engine.paper_venue import PaperVenue, _Resting


class ScriptedVenue(PaperVenue):
    """``parts``: an entry fills in that many trades; ``expire_after``: only that many of
    them fill, the rest of the entry expires. ``reject[role]``: reasons to reject the next
    orders of that role with. ``hold_acks``: protective orders wait in ``held`` for
    ``release()`` (no NEW yet). ``unknown_entries``: an entry is answered with UNKNOWN and
    kept in ``limbo`` until ``settle()``."""

    def __init__(self, *a: Any, parts: int = 1, expire_after: int | None = None,
                 **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.parts = parts
        self.expire_after = expire_after
        self.reject: dict[OrderRole, list[str]] = defaultdict(list)
        self.hold_acks = False
        self.held: list[OrderIntent] = []
        self.unknown_entries = False
        self.limbo: list[OrderIntent] = []
        self.sent: list[OrderIntent] = []

    def submit(self, intent: OrderIntent) -> None:
        self.sent.append(intent)
        sink = self._sink
        assert sink is not None
        if self.reject[intent.role]:
            why = self.reject[intent.role].pop(0)
            sink.on_order_update(OrderUpdate(intent.client_id, intent.symbol,
                                             OrderStatus.REJECTED, self._now, why))
            return
        if intent.role is OrderRole.ENTRY and self.unknown_entries:
            self.limbo.append(intent)
            sink.on_order_update(OrderUpdate(intent.client_id, intent.symbol,
                                             OrderStatus.UNKNOWN, self._now, "503 from Binance"))
            return
        if intent.role in (OrderRole.STOP, OrderRole.TAKE_PROFIT) and self.hold_acks:
            self.held.append(intent)
            return
        super().submit(intent)

    def release(self) -> None:
        held, self.held = self.held, []
        for intent in held:
            super().submit(intent)

    def settle(self) -> None:
        """The unknown entries turn out to have been accepted (and fill as usual)."""
        limbo, self.limbo = self.limbo, []
        for intent in limbo:
            super().submit(intent)

    def _fill(self, resting: _Resting, price: Decimal, liq: Liquidity, ts: int) -> None:
        intent = resting.intent
        if intent.role is not OrderRole.ENTRY or self.parts <= 1:
            return super()._fill(resting, price, liq, ts)
        self.orders.pop(intent.client_id, None)
        self._order_version += 1
        sink = self._sink
        assert sink is not None
        step = self.spec(intent.symbol).step_size
        base = (intent.qty / self.parts // step) * step
        sizes = [base] * (self.parts - 1) + [intent.qty - base * (self.parts - 1)]
        filled = Decimal(0)
        for n, qty in enumerate(sizes, 1):
            if self.expire_after is not None and n > self.expire_after:
                sink.on_order_update(OrderUpdate(intent.client_id, intent.symbol,
                                                 OrderStatus.EXPIRED, ts, "IOC rest expired",
                                                 filled_qty=filled, avg_price=price))
                return
            fee = (price * qty * self.taker_fee).quantize(Decimal("0.00000001"))
            self._trade_seq += 1
            fill = Fill(intent.client_id, intent.symbol, intent.side, qty, price, fee, ts, liq,
                        intent.role, seq=n, trade_id=f"P{self._trade_seq}")
            self._apply(fill)
            filled += qty
            last = n == len(sizes)
            sink.on_order_update(OrderUpdate(
                intent.client_id, intent.symbol,
                OrderStatus.FILLED if last else OrderStatus.PARTIALLY_FILLED, ts,
                filled_qty=filled, avg_price=price))
            sink.on_fill(fill)
        return None
