"""The order owner: every order from intent to final state, and the whole position protected.

Paper and Binance alike: the engine routes intents in and venue reports (``OrderUpdate``,
``Fill``) back; this module decides what they mean for the orders — submit, acknowledge,
partial fills, cancel, unknown outcome, retry, restart.

**Whole-position protection by amendment.** Every entry fill, partial or not, leaves a
reduce-only stop *and* target sized to the whole open quantity. When the quantity grows the
owner places a replacement pair for the new total and cancels the old pair only once the
replacement is acknowledged (replace, *then* cancel): there is never a moment with less
cover than before, and two overlapping reduce-only stops cannot over-close (the second one
finds nothing to reduce). Replacements are coalesced: while one is in flight no other is
sent, and its acknowledgement re-checks the quantity, so a market order filled in ten
trades costs two or three amendments, not ten. Chosen over ``closePosition=true`` because
(1) the quantity on the exchange is exact and visible, so reconciliation after a restart can
check that the stop covers the position (closePosition algo orders report quantity 0);
(2) one code path serves the paper venue and both Binance order services; (3) closePosition
cannot be combined with reduceOnly/quantity, and Binance allows only one such order per
side, which a replace-then-cancel would collide with.

**No position without a stop, ever silently.** A stop counts only once the venue
acknowledged it (NEW); only then is ``Position.stop_loss`` set, which is what ``status``
shows. A rejected protective or exit order is re-sent with backoff under a new client id;
only reduce-only orders are ever re-sent, an entry never. An open quantity without an
acknowledged stop is listed in ``unprotected``; after ``risk.unprotected_grace_s`` (engine
clock) the owner flattens it reduce-only and says why.

**Unknown outcomes.** An entry the venue reports as ``UNKNOWN`` is "possibly live": no new
entry on that symbol until it is final, and any fill that turns up is protected at once.

Retries and the grace period live in ``order_timers``; halt and restart in ``order_restart``
(both mixins of ``Orders``: one owner, three files).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tapedesk.engine.client_ids import client_order_id
from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import (
    Decision,
    ExplanationKind,
    Fill,
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    Signal,
)
from tapedesk.engine.journal import Record
from tapedesk.engine.order_restart import OrderRestart, text_or_none
from tapedesk.engine.order_timers import CLOSING, NEVER, PROTECTIVE, WHAT, OrderTimers
from tapedesk.engine.positions import FillEffect, PositionBook
from tapedesk.engine.risk import Costs, unit_loss
from tapedesk.engine.symbols import SymbolSpec

_EXIT_REASON = {OrderRole.STOP: "stop-loss", OrderRole.TAKE_PROFIT: "take-profit",
                OrderRole.EXIT: "strategy exit", OrderRole.FLATTEN: "emergency stop",
                OrderRole.LIQUIDATION: "liquidation", OrderRole.ENTRY: "reversed"}


@dataclass(slots=True)
class Plan:
    """What protects one symbol, from the accepted signal: prices, strategy, leverage."""

    symbol: str
    side: Side
    stop: Decimal
    target: Decimal | None
    strategy: str
    leverage: int
    entry_id: str = ""  # the entry still working ("" once final)
    entry_unknown: bool = False
    #: The stop the entry was sized against: a trade's R is measured against it even after
    #: the trader moved the stop (``move_stop``) while part of the entry was still to fill.
    initial_stop: Decimal | None = None


Explain = Callable[..., None]


class Orders(OrderTimers, OrderRestart):
    """Holds every open order; the engine calls ``enter``/``close`` and routes reports."""

    def __init__(
        self,
        *,
        venue: Any,
        clock: Any,
        book: PositionBook,
        spec: Callable[[str], SymbolSpec],
        cfg: RiskConfig,
        record: Callable[[Record], None] | None,
        explain: Explain,
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.book = book
        self.spec = spec
        self.grace_ms = int(cfg.unprotected_grace_s * 1000)
        self.record = record
        self.explain = explain
        self.costs = Costs()
        self.open: dict[str, OrderIntent] = {}
        self.acked: set[str] = set()
        self.plans: dict[str, Plan] = {}
        self.exit_reason: dict[str, str] = {}
        self.retries: dict[tuple[str, OrderRole], int] = {}  # (symbol, role) -> due ts
        self.attempts: dict[tuple[str, OrderRole], int] = {}
        self.unprotected_since: dict[str, int] = {}
        self.flattening: set[str] = set()
        self.halting = False  # the emergency stop owns the venue: no protection, no retries
        #: Symbols whose reconciliation differences await the trader: their grace waits too
        #: (the desk does not close what the trader is still deciding about).
        self.on_hold: set[str] = set()
        self.next_due = NEVER  # read on the hot path: nothing to do before this time
        self._cancelling: set[str] = set()
        #: Entries the trader's close cancelled: a fill that still arrives is closed at once.
        self.unwanted_entries: set[str] = set()
        self._ids = itertools.count(1)
        # A per-process token keeps client ids unique across restarts (not trading logic).
        self._prefix = f"{time.time_ns() // 1_000_000 % 1_000_000_000:09d}"

    # -- what the engine asks --------------------------------------------------------------

    def working_entry(self, symbol: str) -> bool:
        """An entry is working, or its outcome is unknown (possibly live)."""
        plan = self.plans.get(symbol)
        return plan is not None and bool(plan.entry_id)

    def protection(self, symbol: str) -> list[OrderIntent]:
        return [i for i in self.open.values() if i.symbol == symbol and i.role in PROTECTIVE]

    def unprotected(self) -> tuple[str, ...]:
        return tuple(sorted(self.unprotected_since))

    def plan_for(self, fill: Fill) -> Plan | None:
        plan = self.plans.get(fill.symbol)
        if plan is not None and fill.role is OrderRole.ENTRY and (
            plan.side.order_side == fill.side
        ):
            return plan
        return None

    # -- intents out -----------------------------------------------------------------------

    def intent(self, symbol: str, side: str, typ: OrderType, qty: Decimal, role: OrderRole,
               *, stop: Decimal | None = None, reduce_only: bool = False,
               strategy: str = "", client_id: str = "") -> OrderIntent:
        cid = client_id or self.new_id(role)
        return OrderIntent(cid, symbol, side, typ, qty, role, self.clock.now(),
                           stop_price=stop, reduce_only=reduce_only, strategy=strategy)

    def new_id(self, role: OrderRole) -> str:
        """A fresh client order id. The engine takes an entry's id before sending it: that id
        names the position its fill opens, and the decision is journaled under it first."""
        return client_order_id(f"{self._prefix}{next(self._ids)}", role)

    def position_id(self, symbol: str) -> str:
        """The position an order or line on ``symbol`` belongs to: the open one, else the one
        a working entry will open; "" when neither (or a position from before the ids)."""
        pos = self.book.get(symbol)
        if pos is not None:
            return pos.position_id
        plan = self.plans.get(symbol)
        return plan.entry_id if plan is not None else ""

    def submit(self, intent: OrderIntent) -> None:
        if intent.role is not OrderRole.ENTRY:
            assert intent.reduce_only, "only entries may add exposure"
        self.open[intent.client_id] = intent
        if self.record is not None:
            self.record((
                "INSERT INTO orders (client_id, ts, symbol, side, type, qty, price, stop_price, "
                "reduce_only, role, strategy, status, reason, updated_ts, position_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'SENT', '', ?, ?)",
                (intent.client_id, intent.ts, intent.symbol, intent.side, str(intent.type),
                 str(intent.qty), text_or_none(intent.price), text_or_none(intent.stop_price),
                 int(intent.reduce_only), str(intent.role), intent.strategy, intent.ts,
                 self.position_id(intent.symbol)
                 or (intent.client_id if intent.role is OrderRole.ENTRY else ""))))
        self.venue.submit(intent)

    def enter(self, sig: Signal, dec: Decision, client_id: str = "") -> None:
        """Send the entry; remember the stop and target that will protect whatever fills."""
        spec = self.spec(sig.symbol)
        long = sig.side is Side.LONG
        # Round the stop and the target toward entry: never more risk than was vetted.
        stop = spec.round_price(sig.stop_loss, "up" if long else "down")
        target = (spec.round_price(sig.take_profit, "down" if long else "up")
                  if sig.take_profit else None)
        intent = self.intent(sig.symbol, sig.side.order_side, OrderType.MARKET, dec.qty,
                             OrderRole.ENTRY, strategy=sig.strategy, client_id=client_id)
        self.plans[sig.symbol] = Plan(sig.symbol, sig.side, stop, target, sig.strategy,
                                      dec.leverage, intent.client_id, initial_stop=stop)
        self.submit(intent)

    def close(self, pos: Position, role: OrderRole, reason: str) -> None:
        """The reduce-only market order that closes ``pos``; ``reason`` labels the trade."""
        self.exit_reason[pos.symbol] = reason
        self.submit(self.intent(pos.symbol, pos.side.opposite.order_side, OrderType.MARKET,
                                pos.qty, role, reduce_only=True, strategy=pos.strategy))

    def closing(self, symbol: str) -> str:
        """The client id of a close (exit or flatten) already working on ``symbol``, or "":
        while one works no second is sent, whoever asks (strategy, trader, retry)."""
        return next((i.client_id for i in self.open.values()
                     if i.symbol == symbol and i.role in CLOSING), "")

    def cancel(self, intent: OrderIntent) -> None:
        self._cancelling.add(intent.client_id)
        self.venue.cancel(intent.symbol, intent.client_id)

    def cancel_protection(self, symbol: str) -> None:
        for intent in self.protection(symbol):
            self.cancel(intent)

    # -- reports in ------------------------------------------------------------------------

    def on_update(self, up: OrderUpdate) -> None:
        if self.record is not None:
            self.record(("UPDATE orders SET status = ?, reason = ?, updated_ts = ? "
                         "WHERE client_id = ?", (str(up.status), up.reason, up.ts, up.client_id)))
        intent = self.open.get(up.client_id)
        if intent is None:
            return
        sym, role, status = intent.symbol, intent.role, up.status
        plan = self.plans.get(sym)
        if status is OrderStatus.UNKNOWN:
            if role is OrderRole.ENTRY and plan is not None and not plan.entry_unknown:
                plan.entry_unknown = True
                self.explain(ExplanationKind.ERROR,
                             f"Entry {intent.side} {intent.qty} {sym}: outcome unknown "
                             f"({up.reason or 'no answer'}). It may be live: no new entry on "
                             f"{sym} until the venue answers; any fill is protected at once.",
                             strategy=intent.strategy, symbol=sym)
            return
        if status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            self.acked.add(up.client_id)
            if role is OrderRole.ENTRY and plan is not None:
                plan.entry_unknown = False
            elif role in PROTECTIVE and status is OrderStatus.NEW:
                self._protective_acked(intent)
            return
        del self.open[up.client_id]
        self.acked.discard(up.client_id)
        cancelled_by_us = up.client_id in self._cancelling
        self._cancelling.discard(up.client_id)
        if role is OrderRole.ENTRY:
            if plan is not None and plan.entry_id == up.client_id:
                plan.entry_id, plan.entry_unknown = "", False
            if status is not OrderStatus.FILLED:
                self._say_final(intent, up)
        elif status is OrderStatus.FILLED:
            if role in CLOSING or role in PROTECTIVE:
                self.attempts.pop((sym, role), None)
        elif role in PROTECTIVE:
            if not (cancelled_by_us and status is OrderStatus.CANCELED):
                self._protective_failed(intent, up)
        elif role in CLOSING:
            self._say_final(intent, up)
            if self.book.get(sym) is not None and not cancelled_by_us:
                self._retry_later(sym, role, up.reason)
        self._recheck(sym)

    def after_fill(self, fill: Fill, effect: FillEffect) -> None:
        """Keep the whole quantity covered; tidy up when the position went flat."""
        sym = fill.symbol
        if effect.closed is not None:
            self.cancel_protection(sym)
            for key in [k for k in self.retries if k[0] == sym]:
                del self.retries[key]
            for key in [k for k in self.attempts if k[0] == sym]:
                del self.attempts[key]
            self.flattening.discard(sym)
            plan = self.plans.get(sym)
            if plan is not None and not plan.entry_id:
                del self.plans[sym]
        pos = self.book.get(sym)
        if pos is not None and fill.role is OrderRole.ENTRY:
            plan = self.plans.get(sym)
            if plan is not None and plan.side is pos.side:
                pos.strategy = plan.strategy
                if plan.stop:
                    loss = unit_loss(pos.entry_price, plan.initial_stop or plan.stop, self.costs)
                    pos.risk_amount = loss.total * pos.qty
                else:  # no stop, no risk amount: R multiples are n/a
                    pos.risk_amount = Decimal(0)
                self.protect(sym)
            if fill.client_id in self.unwanted_entries and not any(
                    i.role in CLOSING for i in self.open.values() if i.symbol == sym):
                self.explain(ExplanationKind.DESK,
                             f"{sym}: {fill.qty} of the entry filled after the trader's close "
                             f"asked to cancel it; closing the {pos.qty} open now too "
                             "(reduce-only market).", symbol=sym)
                self.close(pos, OrderRole.FLATTEN, "manual")
        self._recheck(sym)

    def reason_for(self, fill: Fill) -> str:
        reason = _EXIT_REASON.get(fill.role, str(fill.role))
        if fill.role in CLOSING:
            return self.exit_reason.pop(fill.symbol, reason)
        return reason

    # -- protection ------------------------------------------------------------------------

    def protect(self, symbol: str) -> None:
        """Place (or amend to) a stop and target for the whole open quantity."""
        pos, plan = self.book.get(symbol), self.plans.get(symbol)
        if pos is None or plan is None or self.halting or self.stopless(symbol):
            return
        for role, price in ((OrderRole.STOP, plan.stop), (OrderRole.TAKE_PROFIT, plan.target)):
            if price is None:
                continue
            mine = [i for i in self.protection(symbol) if i.role is role]
            if any(i.client_id not in self.acked for i in mine):
                continue  # one in flight: its acknowledgement re-checks quantity and price
            if any(i.qty == pos.qty and i.stop_price == price for i in mine):
                continue
            typ = OrderType.STOP_MARKET if role is OrderRole.STOP else OrderType.TAKE_PROFIT_MARKET
            self.submit(self.intent(symbol, pos.side.opposite.order_side, typ, pos.qty, role,
                                    stop=price, reduce_only=True, strategy=plan.strategy))

    def covered(self, symbol: str) -> Decimal:
        """The quantity an acknowledged stop on the exchange would close."""
        return max((i.qty for i in self.protection(symbol)
                    if i.role is OrderRole.STOP and i.client_id in self.acked), default=Decimal(0))

    def _protective_acked(self, intent: OrderIntent) -> None:
        sym = intent.symbol
        pos = self.book.get(sym)
        self.attempts.pop((sym, intent.role), None)
        if pos is not None:
            if intent.role is OrderRole.STOP:
                pos.stop_loss = intent.stop_price
            else:
                pos.take_profit = intent.stop_price
        # Replace, then cancel: the older orders of this role go once this one is live.
        for other in self.protection(sym):
            if (other.role is intent.role and other.client_id != intent.client_id
                    and other.client_id in self.acked and other.client_id not in self._cancelling):
                self.cancel(other)
        if pos is not None and (intent.qty != pos.qty or self._price_moved(intent)):
            self.protect(sym)
        self._recheck(sym)

    def move_stop(self, symbol: str, price: Decimal) -> None:
        """Amend the stop to ``price`` (already vetted and rounded): the plan takes the new
        price and ``protect`` replaces the stop, new first, old cancelled once it is live."""
        self.plans[symbol].stop = price
        self.protect(symbol)

    def _price_moved(self, intent: OrderIntent) -> bool:
        """The plan's price for this role changed while ``intent`` was in flight."""
        plan = self.plans.get(intent.symbol)
        if plan is None:
            return False
        want = plan.stop if intent.role is OrderRole.STOP else plan.target
        return want is not None and want != intent.stop_price

    def _protective_failed(self, intent: OrderIntent, up: OrderUpdate) -> None:
        sym = intent.symbol
        pos = self.book.get(sym)
        if pos is None or self.halting:
            return
        standing = [i for i in self.protection(sym) if i.role is intent.role]
        if standing:  # another order of this role still stands or is on its way
            plan = self.plans.get(sym)
            if intent.role is OrderRole.STOP and plan is not None and plan.stop == intent.stop_price:
                # A moved stop the venue refused: the old one keeps protecting, as it says.
                plan.stop = standing[0].stop_price or plan.stop
                self._say_final(intent, up)
                self.explain(ExplanationKind.ERROR,
                             f"{sym}: stop NOT moved to {intent.stop_price}; the stop at "
                             f"{plan.stop} stays on the exchange.", symbol=sym)
            return
        self._say_final(intent, up)
        if "-2021" in up.reason:
            # The price is already through the trigger: the stop would fill now, so do it.
            what = "stop-loss" if intent.role is OrderRole.STOP else "take-profit"
            self.explain(ExplanationKind.ERROR,
                         f"{sym}: the price is already beyond the {what} trigger "
                         f"{intent.stop_price}; closing at market instead"
                         + (" (the position is unprotected until then)."
                            if intent.role is OrderRole.STOP else "."), symbol=sym)
            self.cancel_protection(sym)
            if not self.closing(sym):
                self.close(pos, OrderRole.EXIT, what)
            return
        self._retry_later(sym, intent.role, up.reason)

    def recheck(self, symbol: str) -> None:
        """The position changed outside a fill (reconciliation): is it still covered?"""
        self._recheck(symbol)

    def stopless(self, symbol: str) -> bool:
        """A plan with neither stop nor target: only a ``--no-risk`` research run lets one
        through (RiskEngine.vet asks every other entry for a stop on the right side)."""
        plan = self.plans.get(symbol)
        return plan is not None and not plan.stop and plan.target is None

    def _recheck(self, symbol: str) -> None:
        pos = self.book.get(symbol)
        if pos is not None and self.stopless(symbol):
            self.unprotected_since.pop(symbol, None)  # nothing to protect it with, by request
        elif pos is None or self.covered(symbol) >= pos.qty:
            if self.unprotected_since.pop(symbol, None) is not None and pos is not None:
                self.explain(ExplanationKind.DESK,
                             f"Stop on the exchange covers the whole {pos.qty} {symbol}.",
                             symbol=symbol)
        else:
            if not any(i.role is OrderRole.STOP and i.client_id in self.acked
                       for i in self.protection(symbol)):
                pos.stop_loss = None
            self.unprotected_since.setdefault(symbol, self.clock.now())
        self._schedule()

    def _say_final(self, intent: OrderIntent, up: OrderUpdate) -> None:
        kind = (ExplanationKind.ERROR if up.status is OrderStatus.REJECTED
                else ExplanationKind.DESK)
        what = ("Manual close" if intent.role is OrderRole.FLATTEN
                and self.exit_reason.get(intent.symbol) == "manual"
                else WHAT.get(intent.role, "Order"))
        self.explain(kind, f"{what} order {intent.side} {intent.qty} "
                     f"{intent.symbol} {str(up.status).lower()}: "
                     f"{up.reason or 'no reason given'}.",
                     strategy=intent.strategy, symbol=intent.symbol)

    # -- restart ---------------------------------------------------------------------------
