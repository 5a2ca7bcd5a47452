"""The order owner across an emergency stop and a restart (a mixin of ``Orders``).

A restart restores each open order *exactly* as sent (type, side, trigger, quantity, role,
client id) and tells the venue to track them, so the desk's own stop and target are
recognised on the exchange and their fills, also those made while it was down, close the
trade at the exchange's price and fees.

Write-ahead makes that hold for the order sent just before a kill too: every intent is on
disk before the venue sends it, so a restored order the venue never answered is either on
the exchange (the desk's own, managed again) or never reached it (dropped, not re-sent);
either way said once in the log (``settle_unanswered``).
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from tapedesk.engine.events import ExplanationKind, OrderIntent, OrderRole, OrderType, Side
from tapedesk.engine.order_timers import PROTECTIVE, WHAT
from tapedesk.engine.reconcile import same_order

#: Binance stops finding an order by its id once it was canceled or expired without a fill
#: and was created more than 3 days ago (GET /fapi/v1/order): "unknown" then proves nothing.
FORGOTTEN_MS = 3 * 24 * 3_600_000


class OrderRestart:
    """Halt, reconciliation answers, checkpoint state and restore."""

    # Provided by Orders.
    venue: Any
    clock: Any
    book: Any
    open: dict[str, OrderIntent]
    acked: set[str]
    plans: dict[str, Any]
    exit_reason: dict[str, str]
    retries: dict[Any, int]
    attempts: dict[Any, int]
    unprotected_since: dict[str, int]
    flattening: set[str]
    unanswered: set[str]
    restored: set[str]
    halting: bool
    record: Any
    explain: Any
    _recheck: Any
    _schedule: Any
    _keep: Any
    _drop: Any
    _drop_all: Any
    protect: Any

    def halt(self) -> None:
        """The emergency stop takes over: forget entries and retries, stop protecting."""
        self.halting = True
        for plan in self.plans.values():
            plan.entry_id = ""
        self.retries.clear()
        self.attempts.clear()
        self._schedule()

    def halted_flat(self) -> None:
        """The venue is verified flat: nothing is open, protection may work again."""
        self.halting = False
        self._drop_all()
        self.acked.clear()
        self.plans.clear()
        self.unprotected_since.clear()
        self.flattening.clear()
        self._schedule()

    def forget(self, client_id: str) -> None:
        self._drop(client_id)
        self.acked.discard(client_id)

    def adopt(self, intent: OrderIntent) -> None:
        """An order open on the exchange that the trader told the desk to manage."""
        self._keep(intent)
        self.acked.add(intent.client_id)
        track = getattr(self.venue, "track", None)
        if track is not None:
            track([intent])
        self._recheck(intent.symbol)

    def state(self) -> dict[str, Any]:
        """Each open order exactly as sent (type, side, trigger, qty, role, client id)."""
        return {
            "open": [{**_intent_dict(i), "acked": i.client_id in self.acked}
                     for i in self.open.values()],
            "plans": [{**asdict(p), "side": str(p.side), "stop": str(p.stop),
                       "target": text_or_none(p.target),
                       "initial_stop": text_or_none(p.initial_stop)} for p in self.plans.values()],
            "exit_reason": dict(self.exit_reason),
            "unprotected_since": dict(self.unprotected_since),
        }

    def restore(self, state: dict[str, Any]) -> None:
        for d in state.get("open", []):
            intent = _intent_from(d)
            self._keep(intent)
            self.restored.add(intent.client_id)
            if d.get("acked"):
                self.acked.add(intent.client_id)
            else:
                self.unanswered.add(intent.client_id)
        from tapedesk.engine.orders import Plan  # the owner's own type; imported late

        for d in state.get("plans", []):
            self.plans[d["symbol"]] = Plan(
                d["symbol"], Side(d["side"]), Decimal(d["stop"]),
                Decimal(d["target"]) if d.get("target") else None, d["strategy"],
                int(d["leverage"]), d.get("entry_id", ""), bool(d.get("entry_unknown")),
                Decimal(d["initial_stop"]) if d.get("initial_stop") else None)
        self.exit_reason.update(state.get("exit_reason", {}))
        # The grace period starts again now: the desk could not act while it was down.
        for sym in list(self.book.positions):
            self._recheck(sym)

    def settle_unanswered(self, open_on_exchange: list[OrderIntent],
                          not_on_exchange: set[str] | frozenset[str] = frozenset(),
                          unexplained: set[str] | frozenset[str] = frozenset()) -> None:
        """After a restart, before the comparison with the exchange: restored orders the venue
        had not answered before the desk stopped (journaled, then sent or not). One the
        exchange lists as journaled (same side, type, quantity, trigger) is the desk's own and
        simply managed again (listed otherwise, it stays a difference); one it does not list
        and the venue's look-up found unknown to the exchange (``not_on_exchange``) never
        reached it: it is dropped and never re-sent (an entry's plan goes with it; a stop or
        target is placed anew by ``protect_all``). One whose look-up failed (a 5xx, a timeout)
        may have reached the exchange and filled: it is not called never sent, it is left to
        the comparison, so the trader answers it; so is an entry "unknown" on a symbol where
        the exchange holds a position the journal does not (``unexplained``: a look-up that
        lags may not show it yet). Each is said once."""
        listed = {i.client_id: i for i in open_on_exchange}
        for cid in sorted(self.unanswered):
            intent, there = self.open.get(cid), listed.get(cid)
            if intent is None:
                continue  # the venue's look-up settled it
            sym, what = intent.symbol, WHAT.get(intent.role, "Order")
            if there is not None and not same_order(there, intent):
                continue  # not what was journaled: a difference for the trader
            lagging = intent.role is OrderRole.ENTRY and sym in unexplained
            if there is None and (cid not in not_on_exchange or lagging):
                why = ("could not be asked whether it took it" if cid not in not_on_exchange
                       else "does not show it, yet holds a position the journal does not")
                self.explain(ExplanationKind.ERROR,
                             f"{sym}: {what} order {cid} ({intent.side} {intent.qty}) was "
                             f"journaled just before the restart, but the exchange {why}: it "
                             "may have taken it (and filled). Not sent again; compared with the "
                             "exchange below.", symbol=sym)
                continue
            if there is not None:
                self.explain(ExplanationKind.DESK,
                             f"{sym}: {what} order {cid} was sent just before the restart and "
                             "the exchange accepted it; its answer never reached the journal. "
                             "It is the desk's own: managed again.", symbol=sym)
                if self.record is not None:
                    self.record(("UPDATE orders SET status = 'NEW', reason = ? WHERE "
                                 "client_id = ? AND status = 'PENDING'",
                                 ("accepted before the restart; answer read back after it",
                                  cid)))
                continue
            self.forget(cid)
            self.release_entry(intent)
            if self.clock.now() - intent.ts > FORGOTTEN_MS:
                why = ("is unknown to the exchange: it never reached it, or it was canceled or "
                       "expired without a fill and forgotten (Binance forgets those after 3 "
                       "days); not sent again")
            else:
                why = "never reached the exchange before the restart; not sent again"
            if self.record is not None:
                self.record(("UPDATE orders SET status = 'REJECTED', reason = ? "
                             "WHERE client_id = ?", (why, cid)))
            self.explain(ExplanationKind.DESK,
                         f"{sym}: {what} order {cid} ({intent.side} {intent.qty}) was "
                         f"journaled, but {why}: dropped.", symbol=sym)
        self.unanswered.clear()

    def drop_answered(self, intent: OrderIntent, adopted: bool) -> None:
        """A journaled order the trader answered at reconciliation: forgotten, and no longer
        tracked by the venue (its fate is the answer: a fill read later, after a failed
        look-up, is not booked on top of an adopted or flattened position); an entry not
        adopted claims nothing more."""
        self.forget(intent.client_id)
        if self.record is not None:  # no longer PENDING: the trader's answer is its fate
            listed = "the exchange's order adopted" if adopted else "dropped from the books"
            self.record(("UPDATE orders SET status = 'UNKNOWN', reason = ? WHERE "
                         "client_id = ? AND status = 'PENDING'",
                         (f"answered by the trader at the restart ({listed}); the exchange "
                          "never said what became of this order", intent.client_id)))
        untrack = getattr(self.venue, "untrack", None)
        if untrack is not None:
            untrack(intent.client_id)
        if not adopted:
            self.release_entry(intent)

    def release_entry(self, intent: OrderIntent) -> None:
        """A restored entry the desk no longer waits for (never sent, or answered by the
        trader): its plan stops claiming a working entry, and goes when no position holds
        it, so the symbol can trade again."""
        plan = self.plans.get(intent.symbol)
        if plan is not None and plan.entry_id == intent.client_id:
            plan.entry_id, plan.entry_unknown = "", False
            if self.book.get(intent.symbol) is None:
                del self.plans[intent.symbol]

    def journaled_open(self) -> list[OrderIntent]:
        """The open orders the journal held at the restart: what is compared with the
        exchange. One this run placed since (a stop for a fill caught up while connecting) is
        the desk's own by construction and may still be on its way to the exchange."""
        return [i for cid, i in self.open.items() if cid in self.restored]

    def confirm(self, open_on_exchange: list[OrderIntent]) -> None:
        """After a restart: restored orders the exchange lists as open are acknowledged; a
        restored stop or target it does not list protects nothing, so it is dropped (and
        ``protect_all`` replaces it)."""
        listed = {i.client_id for i in open_on_exchange}
        for intent in self.journaled_open():
            cid = intent.client_id
            if cid in listed:
                self.acked.add(cid)
            elif intent.role in PROTECTIVE:
                self.forget(cid)
                if self.record is not None:  # else its journal row stays open for good
                    self.record(("UPDATE orders SET status = ?, reason = ? WHERE client_id = ? "
                                 "AND status NOT IN ('FILLED', 'CANCELED', 'EXPIRED', "
                                 "'REJECTED')", ("CANCELED", "not open on the exchange "
                                                 "after a restart", cid)))
        for sym in list(self.book.positions):
            self._recheck(sym)

    def protect_all(self) -> None:
        """After a restart: any position not fully covered gets its stop and target now."""
        for sym in list(self.book.positions):
            if sym in self.unprotected_since:
                self.protect(sym)

    def track_open(self, fills: list[Any] | tuple[Any, ...] = ()) -> None:
        """Tell the venue about every restored open order, so their fills are the desk's;
        ``fills``: what the journal already holds for them, so the venue reports none twice;
        ``unanswered``: those it never answered (one it cannot find was never sent, which
        ``settle_unanswered`` says, not the venue)."""
        track = getattr(self.venue, "track", None)
        if track is not None and self.open:
            track(list(self.open.values()), list(fills), unanswered=set(self.unanswered))


def text_or_none(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _intent_dict(i: OrderIntent) -> dict[str, Any]:
    return {"client_id": i.client_id, "symbol": i.symbol, "side": i.side, "type": str(i.type),
            "qty": str(i.qty), "role": str(i.role), "ts": i.ts, "price": text_or_none(i.price),
            "stop_price": text_or_none(i.stop_price), "reduce_only": i.reduce_only,
            "strategy": i.strategy}


def _intent_from(d: dict[str, Any]) -> OrderIntent:
    return OrderIntent(
        d["client_id"], d["symbol"], d["side"], OrderType(d["type"]), Decimal(d["qty"]),
        OrderRole(d["role"]), int(d["ts"]),
        price=Decimal(d["price"]) if d.get("price") else None,
        stop_price=Decimal(d["stop_price"]) if d.get("stop_price") else None,
        reduce_only=bool(d["reduce_only"]), strategy=d.get("strategy", ""))
