"""The order owner's protection: each position's stop and target (a mixin of ``Orders``).

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

**The index.** Protection is asked about several times per order report (is the quantity
covered, is a replacement in flight, which older order to cancel). Rather than scan every
open order each time, ``_guards`` holds each symbol's stop and target orders in the order
they were sent; ``_keep``/``_drop`` (and ``on_update``'s inline copy of ``_drop``) are the
only ways into and out of ``open``, so the index changes exactly when ``open`` does.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tapedesk.engine.events import (
    ExplanationKind,
    OrderIntent,
    OrderRole,
    OrderType,
    OrderUpdate,
)
from tapedesk.engine.order_timers import PROTECTIVE

_STOP = OrderRole.STOP
_ROLES = (OrderRole.STOP, OrderRole.TAKE_PROFIT)  # the order protect places them in
_TYPES = {OrderRole.STOP: OrderType.STOP_MARKET, OrderRole.TAKE_PROFIT: OrderType.TAKE_PROFIT_MARKET}
_ZERO = Decimal(0)
_NONE: dict[str, OrderIntent] = {}  # read-only stand-in for a symbol without protection


class OrderProtection:
    """Stop and target per symbol; state lives on the ``Orders`` instance."""

    # Provided by Orders.
    book: Any
    clock: Any
    plans: dict[str, Any]
    open: dict[str, OrderIntent]
    acked: set[str]
    attempts: dict[Any, int]
    unprotected_since: dict[str, int]
    halting: bool
    _cancelling: set[str]
    _guards: dict[str, dict[str, OrderIntent]]
    explain: Any
    submit: Any
    intent: Any
    cancel: Any
    close: Any
    closing: Any
    _say_final: Any
    _retry_later: Any
    _schedule: Any
    _make_id: Any

    # -- the index (the only writers of ``open``) ------------------------------------------

    def _keep(self, intent: OrderIntent) -> None:
        cid = intent.client_id
        old = self.open.get(cid)
        if old is not None and old.role in PROTECTIVE and (
                old.symbol != intent.symbol or intent.role not in PROTECTIVE):
            self._guards[old.symbol].pop(cid, None)
        self.open[cid] = intent
        if intent.role in PROTECTIVE:
            guards = self._guards.get(intent.symbol)
            if guards is None:
                guards = self._guards[intent.symbol] = {}
            guards[cid] = intent

    def _drop(self, client_id: str) -> OrderIntent | None:
        intent = self.open.pop(client_id, None)
        if intent is not None and intent.role in PROTECTIVE:
            self._guards[intent.symbol].pop(client_id, None)
        return intent

    def _drop_all(self) -> None:
        self.open.clear()
        self._guards.clear()

    # -- what protects a symbol ------------------------------------------------------------

    def protection(self, symbol: str) -> list[OrderIntent]:
        """The symbol's stop and target orders (sent, acknowledged or being cancelled)."""
        return list(self._guards.get(symbol, _NONE).values())

    def _cover(self, symbol: str) -> Decimal | None:
        """The largest acknowledged stop's quantity (the first of equals); None: no such stop."""
        best = None
        acked = self.acked
        for i in self._guards.get(symbol, _NONE).values():
            if i.role is _STOP and i.client_id in acked and (best is None or i.qty > best):
                best = i.qty
        return best

    def covered(self, symbol: str) -> Decimal:
        """The quantity an acknowledged stop on the exchange would close."""
        best = self._cover(symbol)
        return _ZERO if best is None else best

    def stopless(self, symbol: str) -> bool:
        """A plan with neither stop nor target: only a ``--no-risk`` research run lets one
        through (RiskEngine.vet asks every other entry for a stop on the right side)."""
        plan = self.plans.get(symbol)
        return plan is not None and not plan.stop and plan.target is None

    # -- placing and replacing -------------------------------------------------------------

    def protect(self, symbol: str) -> None:
        """Place (or amend to) a stop and target for the whole open quantity."""
        pos, plan = self.book.positions.get(symbol), self.plans.get(symbol)
        if pos is None or plan is None or self.halting or (not plan.stop and plan.target is None):
            return
        acked = self.acked
        for role in _ROLES:
            price = plan.stop if role is _STOP else plan.target
            if price is None:
                continue
            # Read afresh per role: sending the stop may already have changed the orders.
            for i in self._guards.get(symbol, _NONE).values():
                if i.role is role and (i.client_id not in acked
                                       or (i.qty == pos.qty and i.stop_price == price)):
                    break  # one in flight (its acknowledgement re-checks), or already right
            else:
                # ``intent`` positionally (price None, reduce-only): its keyword call was
                # ~1k instructions, and every entry fill places two.
                self.submit(OrderIntent(self._make_id(role), symbol,
                                        pos.side.opposite.order_side, _TYPES[role], pos.qty,
                                        role, self.clock.now(), None, price, True,
                                        plan.strategy))

    def _protective_acked(self, intent: OrderIntent) -> None:
        sym, role = intent.symbol, intent.role
        pos = self.book.positions.get(sym)
        if self.attempts:
            self.attempts.pop((sym, role), None)
        if pos is not None:
            if role is _STOP:
                pos.stop_loss = intent.stop_price
            else:
                pos.take_profit = intent.stop_price
        # Replace, then cancel: the older orders of this role go once this one is live.
        guards = self._guards[sym]
        if len(guards) > 1:
            for other in [*guards.values()]:  # a cancel reports back, changing the dict
                if (other.role is role and other.client_id != intent.client_id
                        and other.client_id in self.acked
                        and other.client_id not in self._cancelling):
                    self.cancel(other)
        if pos is not None:
            if intent.qty != pos.qty:
                self.protect(sym)
            else:  # the plan's price for this role changed while the order was in flight?
                plan = self.plans.get(sym)
                want = None if plan is None else plan.stop if role is _STOP else plan.target
                if want is not None and want != intent.stop_price:
                    self.protect(sym)
        if role is _STOP:  # _recheck counts stops only: a target's acknowledgement changes
            self._recheck(sym)  # nothing it reads (its own sends and cancels recheck themselves)

    def move_stop(self, symbol: str, price: Decimal) -> None:
        """Amend the stop to ``price`` (already vetted and rounded): the plan takes the new
        price and ``protect`` replaces the stop, new first, old cancelled once it is live."""
        self.plans[symbol].stop = price
        self.protect(symbol)

    def cancel_protection(self, symbol: str) -> None:
        guards = self._guards.get(symbol)
        if guards:
            for intent in [*guards.values()]:  # each cancel reports back at once (a copy)
                self.cancel(intent)

    def _protective_failed(self, intent: OrderIntent, up: OrderUpdate) -> None:
        sym = intent.symbol
        pos = self.book.get(sym)
        if pos is None or self.halting:
            return
        # Another order of this role still stands or is on its way (one being cancelled by
        # the desk does not: its CANCELED may just be late, as on Binance).
        standing = [i for i in self.protection(sym)
                    if i.role is intent.role and i.client_id not in self._cancelling]
        if standing:
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

    # -- is the position covered? ----------------------------------------------------------

    def recheck(self, symbol: str) -> None:
        """The position changed outside a fill (reconciliation): is it still covered?"""
        self._recheck(symbol)

    def _recheck(self, symbol: str) -> None:
        """Start or end the symbol's unprotected grace. The timers are rescheduled only when
        the grace starts or ends: every other change to them reschedules where it happens."""
        since = self.unprotected_since
        pos = self.book.positions.get(symbol)
        if pos is None:
            if since.pop(symbol, None) is not None:
                self._schedule()
            return
        plan = self.plans.get(symbol)
        if plan is not None and not plan.stop and plan.target is None:  # stopless
            if since.pop(symbol, None) is not None:  # nothing to protect it with, by request
                self._schedule()
            return
        cover = self._cover(symbol)
        if (_ZERO if cover is None else cover) >= pos.qty:
            if since.pop(symbol, None) is not None:
                self.explain(ExplanationKind.DESK,
                             f"Stop on the exchange covers the whole {pos.qty} {symbol}.",
                             symbol=symbol)
                self._schedule()
            return
        if cover is None:
            pos.stop_loss = None
        if symbol not in since:
            since[symbol] = self.clock.now()
            self._schedule()
