"""The order owner: every order from intent to final state, and the whole position protected.

Paper and Binance alike: the engine routes intents in and venue reports (``OrderUpdate``,
``Fill``) back; this module decides what they mean for the orders — submit, acknowledge,
partial fills, cancel, unknown outcome, retry, restart.

**Whole-position protection by amendment** (``order_protection``): every entry fill, partial
or not, leaves a reduce-only stop *and* target sized to the whole open quantity; a larger
quantity gets a replacement pair, and the old pair is cancelled only once it is live.

**No position without a stop, ever silently.** A stop counts only once the venue
acknowledged it (NEW); only then is ``Position.stop_loss`` set, which is what ``status``
shows. A rejected protective or exit order is re-sent with backoff under a new client id;
only reduce-only orders are ever re-sent, an entry never. An open quantity without an
acknowledged stop is listed in ``unprotected``; after ``risk.unprotected_grace_s`` (engine
clock) the owner flattens it reduce-only and says why.

**Unknown outcomes.** An entry the venue reports as ``UNKNOWN`` is "possibly live": no new
entry on that symbol until it is final, and any fill that turns up is protected at once.

Protection lives in ``order_protection``, retries and the grace period in ``order_timers``,
halt and restart in ``order_restart`` (mixins of ``Orders``: one owner, four files).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tapedesk.engine.client_ids import client_id_maker
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
from tapedesk.engine.order_protection import OrderProtection
from tapedesk.engine.order_restart import OrderRestart, text_or_none
from tapedesk.engine.order_timers import CLOSING, NEVER, PROTECTIVE, WHAT, OrderTimers
from tapedesk.engine.positions import FillEffect, PositionBook
from tapedesk.engine.risk import Costs, unit_loss
from tapedesk.engine.symbols import SymbolSpec

# Members read as module constants on the hot paths: ``OrderStatus.NEW`` inside a function
# is a lookup through the enum metaclass's ``__getattr__`` hook (~100 ns each).
_ACKS = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
_NEW, _FILLED = OrderStatus.NEW, OrderStatus.FILLED
_UNKNOWN, _CANCELED = OrderStatus.UNKNOWN, OrderStatus.CANCELED
_ENTRY = OrderRole.ENTRY
_STOP = OrderRole.STOP
_MARKET = OrderType.MARKET
_LONG = Side.LONG
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


class Orders(OrderProtection, OrderTimers, OrderRestart):
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
        self.open: dict[str, OrderIntent] = {}  # changed only by _keep/_drop (the index)
        self._guards: dict[str, dict[str, OrderIntent]] = {}  # symbol -> its stop and target
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
        #: Restored orders the venue had not answered before the restart (order_restart).
        self.unanswered: set[str] = set()
        #: Orders restored from the journal (order_restart): only those meet the exchange.
        self.restored: set[str] = set()
        # A per-process token keeps client ids unique across restarts (not trading logic).
        self._make_id = client_id_maker(f"{time.time_ns() // 1_000_000 % 1_000_000_000:09d}")

    # -- what the engine asks --------------------------------------------------------------

    def working_entry(self, symbol: str) -> bool:
        """An entry is working, or its outcome is unknown (possibly live)."""
        plan = self.plans.get(symbol)
        return plan is not None and plan.entry_id != ""  # bool() without the call

    def unprotected(self) -> tuple[str, ...]:
        return tuple(sorted(self.unprotected_since))

    def plan_for(self, fill: Fill) -> Plan | None:
        plan = self.plans.get(fill.symbol)
        if plan is not None and fill.role is _ENTRY and plan.side.order_side == fill.side:
            return plan
        return None

    # -- intents out -----------------------------------------------------------------------

    def intent(self, symbol: str, side: str, typ: OrderType, qty: Decimal, role: OrderRole,
               *, stop: Decimal | None = None, reduce_only: bool = False,
               strategy: str = "", client_id: str = "") -> OrderIntent:
        # Positional (price None): one is made for every order sent.
        return OrderIntent(client_id or self._make_id(role), symbol, side, typ, qty, role,
                           self.clock.now(), None, stop, reduce_only, strategy)

    def new_id(self, role: OrderRole) -> str:
        """A fresh client order id. The engine takes an entry's id before sending it: that id
        names the position its fill opens, and the decision is journaled under it first."""
        return self._make_id(role)

    def position_id(self, symbol: str) -> str:
        """The position an order or line on ``symbol`` belongs to: the open one, else the one
        a working entry will open; "" when neither (or a position from before the ids)."""
        pos = self.book.get(symbol)
        if pos is not None:
            return pos.position_id
        plan = self.plans.get(symbol)
        return plan.entry_id if plan is not None else ""

    def submit(self, intent: OrderIntent) -> None:
        """Journal the intent (PENDING until the venue answers), then hand it to the venue.
        A live venue sends it only once that record is on disk (``FillSide.journaled``): a
        desk killed in between finds its own order on the exchange after the restart."""
        if intent.role is not _ENTRY:
            assert intent.reduce_only, "only entries may add exposure"
        self._keep(intent)
        if self.record is not None:
            self.record((
                "INSERT INTO orders (client_id, ts, symbol, side, type, qty, price, stop_price, "
                "reduce_only, role, strategy, status, reason, updated_ts, position_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', '', ?, ?)",
                (intent.client_id, intent.ts, intent.symbol, intent.side, str(intent.type),
                 str(intent.qty), text_or_none(intent.price), text_or_none(intent.stop_price),
                 int(intent.reduce_only), str(intent.role), intent.strategy, intent.ts,
                 self.position_id(intent.symbol)
                 or (intent.client_id if intent.role is OrderRole.ENTRY else ""))))
        self.venue.submit(intent)

    def enter(self, sig: Signal, dec: Decision, client_id: str = "") -> None:
        """Send the entry; remember the stop and target that will protect whatever fills."""
        symbol, side, strategy = sig.symbol, sig.side, sig.strategy
        spec = self.spec(symbol)
        long = side is _LONG
        # Round the stop and the target toward entry: never more risk than was vetted.
        stop = spec.round_price(sig.stop_loss, "up" if long else "down")
        target = (spec.round_price(sig.take_profit, "down" if long else "up")
                  if sig.take_profit else None)
        # ``intent`` of a market entry, positional (its keyword call was ~1k instructions).
        intent = OrderIntent(client_id or self._make_id(_ENTRY), symbol, side.order_side,
                             _MARKET, dec.qty, _ENTRY, self.clock.now(), None, None, False,
                             strategy)
        self.plans[symbol] = Plan(symbol, side, stop, target, strategy, dec.leverage,
                                  intent.client_id, False, stop)
        self.submit(intent)

    def close(self, pos: Position, role: OrderRole, reason: str) -> None:
        """The reduce-only market order that closes ``pos``; ``reason`` labels the trade."""
        symbol = pos.symbol
        self.exit_reason[symbol] = reason
        # ``intent`` positionally (price and stop None, reduce-only), as ``enter`` does.
        self.submit(OrderIntent(self._make_id(role), symbol, pos.side.opposite.order_side,
                                _MARKET, pos.qty, role, self.clock.now(), None, None, True,
                                pos.strategy))

    def closing(self, symbol: str) -> str:
        """The client id of a close (exit or flatten) already working on ``symbol``, or "":
        while one works no second is sent, whoever asks (strategy, trader, retry)."""
        for i in self.open.values():  # asked on every signal: a loop, not a generator
            if i.symbol == symbol and i.role in CLOSING:
                return i.client_id
        return ""

    def cancel(self, intent: OrderIntent) -> None:
        self._cancelling.add(intent.client_id)
        self.venue.cancel(intent.symbol, intent.client_id)

    # -- reports in ------------------------------------------------------------------------

    def on_update(self, up: OrderUpdate) -> None:
        cid, status = up.client_id, up.status
        if self.record is not None:
            self.record(("UPDATE orders SET status = ?, reason = ?, updated_ts = ? "
                         "WHERE client_id = ?", (str(status), up.reason, up.ts, cid)))
        intent = self.open.get(cid)
        if intent is None:
            return
        sym, role = intent.symbol, intent.role
        if status in _ACKS:  # most reports: answered first
            self.acked.add(cid)
            if role is _ENTRY:
                plan = self.plans.get(sym)
                if plan is not None:
                    plan.entry_unknown = False
            elif status is _NEW and role in PROTECTIVE:
                self._protective_acked(intent)
            return
        if status is _UNKNOWN:
            plan = self.plans.get(sym)
            if role is _ENTRY and plan is not None and not plan.entry_unknown:
                plan.entry_unknown = True
                self.explain(ExplanationKind.ERROR,
                             f"Entry {intent.side} {intent.qty} {sym}: outcome unknown "
                             f"({up.reason or 'no answer'}). It may be live: no new entry on "
                             f"{sym} until the venue answers; any fill is protected at once.",
                             strategy=intent.strategy, symbol=sym)
            return
        del self.open[cid]  # what _drop does, with the intent in hand
        if role in PROTECTIVE:
            self._guards[sym].pop(cid, None)
        self.acked.discard(cid)
        cancelling = self._cancelling
        cancelled_by_us = cid in cancelling
        if cancelled_by_us:
            cancelling.discard(cid)
        if role is _ENTRY:  # the plan is read only here: most final reports are not entries'
            plan = self.plans.get(sym)
            if plan is not None and plan.entry_id == cid:
                plan.entry_id, plan.entry_unknown = "", False
            if status is not _FILLED:
                self._say_final(intent, up)
        elif status is _FILLED:
            if self.attempts and (role in CLOSING or role in PROTECTIVE):
                self.attempts.pop((sym, role), None)
        elif role in PROTECTIVE:
            if not (cancelled_by_us and status is _CANCELED):
                self._protective_failed(intent, up)
        elif role in CLOSING:
            self._say_final(intent, up)
            if self.book.get(sym) is not None and not cancelled_by_us:
                self._retry_later(sym, role, up.reason)
        if role is _STOP:
            # Of what _recheck reads (position, plan, acknowledged stops) only a stop's final
            # report changes anything: positions change by fills (after_fill rechecks), a
            # plan by a new entry while flat (one position per symbol) or a stop sent.
            self._recheck(sym)

    def after_fill(self, fill: Fill, effect: FillEffect) -> None:
        """Keep the whole quantity covered; tidy up when the position went flat."""
        sym = fill.symbol
        if effect.closed is not None:
            self.cancel_protection(sym)
            ended = False  # a retry or a flattening of sym: only then can next_due move
            if self.retries:
                for key in [k for k in self.retries if k[0] == sym]:
                    del self.retries[key]
                    ended = True
            if self.attempts:
                for key in [k for k in self.attempts if k[0] == sym]:
                    del self.attempts[key]
            if sym in self.flattening:
                self.flattening.discard(sym)
                ended = True
            plan = self.plans.get(sym)
            if plan is not None and not plan.entry_id:
                del self.plans[sym]
            if ended:
                self._schedule()
        pos = self.book.positions.get(sym)
        if pos is not None and fill.role is _ENTRY:
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
        role = fill.role
        reason = _EXIT_REASON.get(role) or str(role)  # every role has a label: str() spared
        if role in CLOSING:
            return self.exit_reason.pop(fill.symbol, reason)
        return reason

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
