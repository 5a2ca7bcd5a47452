"""Startup reconciliation: what the exchange holds versus what the journal says the desk holds.

A live desk that restarts (a crash, a kill -9, a reboot) must not trade on a wrong picture of
its own account. Before the first order it compares the exchange's positions and open orders
(regular *and* algo) with the journal's. Any difference blocks trading until the user decides,
for each one:

- **adopt**: the exchange is right; the journal takes the exchange's version and the desk
  manages it from now on (a position without a stop gets none silently: the desk says so);
- **flatten**: close that position reduce-only at market, or cancel that order;
- **ignore**: leave it alone on the exchange and keep it out of the desk's books (the user
  manages it by hand; the desk will not touch it).

The journal holds every order from *before* it was sent (write-ahead), so the desk's own
orders are never differences, also one the exchange took just as the desk was killed; only
what the journal never held, or holds otherwise, asks the trader (``reconcile_at_start``).

Nothing here talks to a UI: the TUI shows ``Reconciliation.differences`` on a screen, a
headless run prints ``describe()`` and waits for ``tapedesk reconcile`` answers.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from tapedesk.engine.events import OrderIntent, OrderRole, OrderType, Position


class Action(StrEnum):
    ADOPT = "adopt"
    FLATTEN = "flatten"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class Difference:
    """One thing the exchange and the journal disagree about. ``key`` names it stably."""

    key: str
    kind: str  # "position" | "order"
    symbol: str
    text: str
    exchange_position: Position | None = None
    journal_position: Position | None = None
    exchange_order: OrderIntent | None = None
    journal_order: OrderIntent | None = None


def _pos_words(p: Position | None) -> str:
    return "flat" if p is None else f"{p.side} {p.qty} @ {p.entry_price}"


def _order_words(o: OrderIntent) -> str:
    price = o.stop_price if o.type in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET) \
        else o.price
    at = f" @ {price}" if price else ""
    return f"{o.role} {o.type} {o.side} {o.qty}{at} ({o.client_id})"


def compare(
    exchange_positions: dict[str, Position],
    exchange_orders: list[OrderIntent],
    journal_positions: dict[str, Position],
    journal_orders: list[OrderIntent],
) -> list[Difference]:
    """Every disagreement, positions first. Sizes and sides must match exactly; entry price
    may differ by rounding (Binance averages in its own precision) and is not compared."""
    diffs: list[Difference] = []
    for sym in sorted(set(exchange_positions) | set(journal_positions)):
        ex, jr = exchange_positions.get(sym), journal_positions.get(sym)
        if ex is not None and jr is not None and ex.side == jr.side and ex.qty == jr.qty:
            continue
        if jr is None:
            text = f"{sym}: the exchange holds {_pos_words(ex)}; the journal knows no position"
        elif ex is None:
            text = (f"{sym}: the journal has {_pos_words(jr)}; the exchange is flat "
                    "(closed outside the desk, or by a stop while it was down)")
        else:
            text = f"{sym}: the exchange holds {_pos_words(ex)}; the journal has {_pos_words(jr)}"
        diffs.append(Difference(f"position:{sym}", "position", sym, text,
                                exchange_position=ex, journal_position=jr))
    ex_orders = {o.client_id: o for o in exchange_orders}
    jr_orders = {o.client_id: o for o in journal_orders}
    for cid in sorted(set(ex_orders) | set(jr_orders)):
        exo, jro = ex_orders.get(cid), jr_orders.get(cid)
        if exo is not None and jro is not None and same_order(exo, jro):
            continue
        sym = (exo or jro).symbol  # type: ignore[union-attr]
        if jro is None:
            assert exo is not None
            text = f"{sym}: open on the exchange, unknown to the journal: {_order_words(exo)}"
        elif exo is None:
            text = (f"{sym}: the journal expects an open {_order_words(jro)}; the exchange has "
                    "no such open order (filled, canceled or expired while the desk was down)")
        else:
            text = (f"{sym}: {cid} differs: exchange {_order_words(exo)}, "
                    f"journal {_order_words(jro)}")
        diffs.append(Difference(f"order:{cid}", "order", sym, text,
                                exchange_order=exo, journal_order=jro))
    return diffs


def same_order(a: OrderIntent, b: OrderIntent) -> bool:
    """The exchange's order is the one journaled: side, type, quantity and trigger agree."""
    return (a.side, a.type, a.qty) == (b.side, b.type, b.qty) and (
        a.stop_price or Decimal(0)) == (b.stop_price or Decimal(0))


class ReconcileVenue(Protocol):
    async def fetch_positions(self) -> dict[str, Position]: ...

    async def fetch_open_orders(self) -> list[OrderIntent]: ...

    async def close_position(self, position: Position) -> None: ...

    async def cancel_async(self, symbol: str, client_id: str) -> None: ...


@dataclass
class Reconciliation:
    """The pending differences and the user's answers; ``blocked`` until all are answered."""

    differences: list[Difference]
    exchange_orders: list[OrderIntent] = field(default_factory=list)
    answers: dict[str, Action] = field(default_factory=dict)

    @classmethod
    async def with_venue(cls, venue: ReconcileVenue, journal_positions: dict[str, Position],
                         journal_orders: list[OrderIntent]) -> Reconciliation:
        """Read the exchange's side now and compare it with the journal's."""
        positions = await venue.fetch_positions()
        orders = await venue.fetch_open_orders()
        return cls(compare(positions, orders, journal_positions, journal_orders), orders)

    @property
    def pending(self) -> list[Difference]:
        return [d for d in self.differences if d.key not in self.answers]

    @property
    def blocked(self) -> bool:
        return bool(self.pending)

    def get(self, key: str) -> Difference:
        for d in self.differences:
            if d.key == key:
                return d
        raise KeyError(f"no difference {key!r}; pending: "
                       f"{', '.join(d.key for d in self.pending) or 'none'}")

    async def resolve(self, key: str, action: Action, venue: ReconcileVenue) -> str:
        """Carry out ``action`` for one difference; returns a sentence for the log."""
        diff = self.get(key)
        text = f"{diff.symbol}: {action}"
        if action is Action.FLATTEN:
            if diff.kind == "position" and diff.exchange_position is not None:
                await venue.close_position(diff.exchange_position)
                text = f"{diff.symbol}: closing {_pos_words(diff.exchange_position)} reduce-only"
            elif diff.kind == "order" and diff.exchange_order is not None:
                await venue.cancel_async(diff.symbol, diff.exchange_order.client_id)
                text = f"{diff.symbol}: canceled {diff.exchange_order.client_id}"
            else:
                text = f"{diff.symbol}: nothing on the exchange to flatten; journal corrected"
        elif action is Action.ADOPT:
            text = f"{diff.symbol}: adopted the exchange's version"
            pos = diff.exchange_position
            if diff.kind == "position" and pos is not None:
                stops = [o for o in self.exchange_orders
                         if o.symbol == diff.symbol and o.role is OrderRole.STOP]
                if not stops:
                    text += (f"; WARNING: no stop-loss protects this {pos.side} {pos.qty}: "
                             "the desk closes it reduce-only after risk.unprotected_grace_s "
                             "unless a stop is adopted or placed")
        else:
            text = f"{diff.symbol}: ignored; the desk leaves it alone and keeps it off its books"
        self.answers[key] = action
        return text

    async def answer(self, key: str, action: str, venue: ReconcileVenue, book: Any,
                     orders: Any) -> str:
        """``resolve``, then bring the desk's books (positions, order owner) in line."""
        act = Action(action)
        diff = self.get(key)
        text = await self.resolve(key, act, venue)
        if diff.kind == "position":
            if act is Action.ADOPT and diff.exchange_position is not None:
                book.positions[diff.symbol] = diff.exchange_position
            else:
                book.positions.pop(diff.symbol, None)
        elif diff.journal_order is not None:
            orders.drop_answered(diff.journal_order,
                                 adopted=act is Action.ADOPT and diff.exchange_order is not None)
        if act is Action.ADOPT and diff.exchange_order is not None:
            orders.adopt(diff.exchange_order)
        orders.recheck(diff.symbol)
        return text

    def describe(self) -> str:
        """The headless message: what differs and how to answer."""
        if not self.differences:
            return "Reconciled: the exchange and the journal agree."
        lines = [f"The desk will not trade: {len(self.pending)} difference(s) between the "
                 "exchange and the journal. Answer each with adopt, flatten or ignore:"]
        for d in self.differences:
            answer = self.answers.get(d.key)
            lines.append(f"  [{answer or 'pending'}] {d.key}: {d.text}")
        return "\n".join(lines)


async def reconcile_at_start(venue: Any, book: Any, orders: Any) -> Reconciliation:
    """Fills of the desk's own orders while it was down come first (the venue re-reads every
    tracked order), then the exchange is compared with the journal's open orders, which the
    order owner restored exactly as sent, so its own stop and target match. The journal holds
    each order from *before* it was sent (write-ahead), so one the exchange accepted just as
    the desk was killed matches too; one that never reached the exchange is dropped first
    (``settle_unanswered``). Orders the journal never held (placed by hand, by another
    program, or by another desk with the same id format) stay differences."""
    resync = getattr(venue, "resync", None)
    if resync is not None:
        with contextlib.suppress(Exception):
            await resync()
    positions = await venue.fetch_positions()
    listed = await venue.fetch_open_orders()
    never_sent = getattr(venue, "not_on_exchange", None)  # only what the look-up proved
    orders.settle_unanswered(listed, never_sent() if never_sent is not None else frozenset(),
                             {s for s in positions if s not in book.positions})
    placed_since = set(orders.open) - orders.restored  # own orders, maybe still on the way
    rec = Reconciliation(compare(positions, [i for i in listed if i.client_id not in placed_since],
                                 dict(book.positions), orders.journaled_open()), listed)
    orders.confirm(listed)
    return rec
