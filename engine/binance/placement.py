"""Placing and cancelling orders on Binance, and settling placements whose outcome is unknown.

Entries and exits go to ``/fapi/v1/order`` with ``newClientOrderId`` = the intent's client
id; STOP_MARKET / TAKE_PROFIT_MARKET go to the Algo service (``/fapi/v1/algoOrder``,
``clientAlgoId``, ``triggerPrice``; ``/fapi/v1/order`` answers -4120 for them), reduce-only
or closePosition, so a protective order can never open or grow a position
(https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Algo-Order).

After a 5xx, a timeout or -1006/-1007 the order may exist. Binance shows a just-accepted order
in look-ups only after a delay, so an early -2013 proves nothing: the desk reports UNKNOWN,
looks the order up by client id with backoff and watches the user stream for
``unknown_window_s``. An order that can add exposure is never re-sent; one that never appears
is reported REJECTED "not found on Binance after N s; not re-sent". Only a reduce-only /
closePosition order is re-sent, under the same client id, after ``resend_after_s``.

What the engine sees (``VenueSink``), per order:
- ``UNKNOWN`` "outcome unknown (<why>); looking for it on Binance for up to N s; ..." — not
  final: ``NEW``/fills/``REJECTED`` follow;
- ``REJECTED`` "not found on Binance after N s; not re-sent (...)" — it never appeared; if it
  turns up later anyway, its fills are reported (with a venue error saying so) and its real
  status follows the REJECTED;
- ``REJECTED`` "<plain words> (Binance <code>: <message>)" for a refusal, e.g. -2021, -2022,
  -4164, -1111, -2019, -4120; "not sent: <why>" when the desk refused it before sending;
- ``REJECTED`` "triggered, but the order it sent was rejected: <rm>" for an algo order;
- ``EXPIRED`` "expired by Binance ..." / ``CANCELED``; ``PARTIALLY_FILLED``/``FILLED`` with
  the cumulative ``filled_qty``, sent only after the fills that make it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from tapedesk.engine.binance.errors import DUPLICATE_ID, NOT_FOUND, VenueError
from tapedesk.engine.binance.orders import (
    ALGO_TYPES,
    OrderBook,
    Tracked,
    can_add_exposure,
    role_from_client_id,
)
from tapedesk.engine.events import Fill, OrderIntent, OrderRole, OrderStatus, OrderType

log = logging.getLogger(__name__)


class LiveOrders(OrderBook):
    """The order book plus what the engine asks of it: submit, track, cancel."""

    def submit(self, intent: OrderIntent) -> None:
        tr = self.orders[intent.client_id] = Tracked(intent, intent.type in ALGO_TYPES)
        self._spawn(self.place(tr))

    def submit_refused(self, intent: OrderIntent, why: str) -> None:
        """An order the desk decided not to send after all (its leverage could not be set)."""
        tr = self.orders[intent.client_id] = Tracked(intent, intent.type in ALGO_TYPES)
        self.update(tr, OrderStatus.REJECTED, why)

    def track(self, intents: list[OrderIntent], fills: Iterable[Fill] = (),
              unanswered: set[str] | frozenset[str] = frozenset()) -> None:
        """Resume orders open on the exchange (restored from the journal after a restart, or
        adopted): their stream events and look-ups are recognised again, and whatever
        happened to them while the desk was down is fetched now. ``fills`` are those the
        journal already holds for these orders: they are not reported again, and new ones
        continue their ``seq``. ``unanswered``: restored orders whose answer the journal never
        got (write-ahead): one Binance does not know was never sent, and the order owner, not
        the venue, says so."""
        held: dict[str, list[Fill]] = {}
        for f in fills:
            held.setdefault(f.client_id, []).append(f)
        for it in intents:
            if it.client_id in self.orders:
                continue
            tr = self.orders[it.client_id] = Tracked(it, it.type in ALGO_TYPES,
                                                     status=OrderStatus.NEW,
                                                     unanswered=it.client_id in unanswered)
            for f in held.get(it.client_id, []):
                if f.trade_id:
                    self.seen_trades.add((f.symbol, f.trade_id))
                tr.filled += f.qty
                tr.fills = max(tr.fills + 1, f.seq)
            if tr.filled:
                tr.status = OrderStatus.PARTIALLY_FILLED
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                continue  # no loop yet: the user stream's first connect resyncs it
            self._spawn(self.resync(tr))

    async def cancel(self, symbol: str, client_id: str) -> None:
        tr = self.orders.get(client_id)
        algo = tr.algo if tr else role_from_client_id(client_id) in (OrderRole.STOP,
                                                                     OrderRole.TAKE_PROFIT)
        try:
            if algo:
                await self.gate.call("futures_cancel_algo_order", clientAlgoId=client_id)
            else:
                await self.gate.call("futures_cancel_order", symbol=symbol,
                                     origClientOrderId=client_id)
        except VenueError as exc:
            if exc.code in (-2011, -2013):
                log.info("cancel %s: %s", client_id, exc.text)
                if tr is not None and exc.code in NOT_FOUND and tr.status in (
                        None, OrderStatus.UNKNOWN):
                    tr.cancel_wanted = True  # not visible yet: cancel it when it turns up
                return
            self.error(f"Could not cancel {client_id}: {exc.text}")
            return
        if tr is not None:
            self.update(tr, OrderStatus.CANCELED, "canceled by the desk")

    # -- placing ------------------------------------------------------------------------------
    def update(self, tr: Tracked, status: OrderStatus, reason: str = "",
               filled: Decimal | None = None, avg: Decimal = Decimal(0)) -> None:
        super().update(tr, status, reason, filled, avg)
        if tr.cancel_wanted and tr.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            tr.cancel_wanted = False
            self._spawn(self.cancel(tr.intent.symbol, tr.intent.client_id))

    def _params(self, tr: Tracked) -> tuple[str, dict[str, Any]]:
        it = tr.intent
        spec = self._spec(it.symbol)
        qty = spec.round_qty(it.qty, market=it.type is not OrderType.LIMIT)
        if tr.algo:
            assert it.stop_price is not None, "a stop/take-profit needs stop_price"
            params = {"algoType": "CONDITIONAL", "symbol": it.symbol, "side": it.side,
                      "type": it.type.value, "triggerPrice": str(spec.round_price(it.stop_price)),
                      "workingType": self.settings.working_type, "clientAlgoId": it.client_id}
            if getattr(it, "close_position", False):
                params["closePosition"] = "true"  # closes whatever is open; no reduceOnly
            else:
                params.update(quantity=str(qty), reduceOnly="true")
            return "futures_create_algo_order", params
        params = {"symbol": it.symbol, "side": it.side, "type": it.type.value,
                  "quantity": str(qty), "newClientOrderId": it.client_id,
                  "newOrderRespType": "RESULT"}
        if it.type is OrderType.LIMIT:
            assert it.price is not None, "a limit order needs a price"
            params["price"] = str(spec.round_price(it.price))
            params["timeInForce"] = "GTC"
        if it.reduce_only:
            params["reduceOnly"] = "true"
        return "futures_create_order", params

    def _local_reject(self, tr: Tracked) -> str:
        it = tr.intent
        spec = self._spec(it.symbol)
        if tr.algo and getattr(it, "close_position", False):
            return ""
        qty = spec.round_qty(it.qty, market=it.type is not OrderType.LIMIT)
        if qty <= 0:
            return f"quantity {it.qty} rounds to 0 at step {spec.step_size}"
        if it.reduce_only or tr.algo:
            return ""
        last = self._last_price.get(it.symbol)
        price = it.price or (Decimal(str(last)) if last else None)
        return (spec.check_order(qty, price) or "") if price else ""

    async def place(self, tr: Tracked) -> None:
        it = tr.intent
        try:
            why = self._local_reject(tr)
            method, params = self._params(tr)
        except VenueError as exc:
            why, method, params = exc.text, "", {}
        if why:
            self.update(tr, OrderStatus.REJECTED, f"not sent: {why}")
            return
        if not await self.written_ahead(tr):
            return
        sends = 0
        while True:
            sends += 1
            try:
                res = await self.gate.call(method, order=True,
                                           retry_429=it.role is not OrderRole.ENTRY, **params)
            except VenueError as exc:
                if sends > 1 and exc.code in DUPLICATE_ID:
                    why = "the re-send was refused as a duplicate: the first one arrived"
                    await self.settle_unknown(tr, why, may_resend=False)
                    return
                if not exc.unknown_outcome:
                    tr.heard.set()  # answered: a rejection (the emergency stop awaits it)
                    self.update(tr, OrderStatus.REJECTED, exc.text)
                    return
                resend = not can_add_exposure(it) and sends <= self.settings.max_resends
                if await self.settle_unknown(tr, exc.text, may_resend=resend):
                    return
                if tr.cancel_wanted:  # the desk gave it up meanwhile (flattened, replaced)
                    tr.cancel_wanted = False
                    self.update(tr, OrderStatus.CANCELED, "canceled by the desk while its "
                                "outcome was unknown; not sent again")
                    return
                self.error(f"{it.client_id} ({it.role}, reduce-only) is not on Binance: "
                           "sending it again under the same client id")
                continue
            self.adopt(tr, res)
            return

    async def written_ahead(self, tr: Tracked) -> bool:
        """Write-ahead: the intent is on disk before Binance can hear of it, so a desk killed
        between the two recognises the order as its own after a restart. An order that could
        add exposure is not sent when the journal cannot take it; a reduce-only one is."""
        journaled = getattr(self.sink, "journaled", None)
        if journaled is None:
            return True
        if not can_add_exposure(tr.intent):
            with contextlib.suppress(TimeoutError):  # the commit goes on without it
                await asyncio.wait_for(asyncio.shield(journaled()),
                                       self.settings.write_ahead_wait_s)
            return True
        why = await journaled()
        if why:
            self.update(tr, OrderStatus.REJECTED,
                        f"not sent: the journal could not record it first ({why})")
            return False
        return True

    async def settle_unknown(self, tr: Tracked, why: str, may_resend: bool) -> bool:
        """Look for an order whose placement had no clear answer, by client id with backoff
        and on the user stream. True once settled (found, or declared missing and never to be
        re-sent); False only when ``may_resend`` and it did not appear in time."""
        it = tr.intent
        if tr.known:
            return True
        loop = asyncio.get_running_loop()
        window = self.settings.resend_after_s if may_resend else self.settings.unknown_window_s
        self.update(tr, OrderStatus.UNKNOWN, f"outcome unknown ({why}); looking for it on "
                    f"Binance for up to {window:.0f} s" + (
                        "; reduce-only, so re-sent under the same client id if it does not "
                        "appear" if may_resend else "; it will not be sent again"))
        self.error(f"{it.role} order {it.client_id}: {why}; looking it up by its client id and "
                   "on the user stream before anything else is sent")
        start, delay, told_unknown = loop.time(), self.settings.lookup_delay, False
        while True:
            tr.heard.clear()
            missing = False
            try:
                row = await self.lookup(tr)
            except VenueError as exc:
                missing = exc.code in NOT_FOUND
            else:
                self.adopt(tr, row)
                return True
            if tr.known:
                return True
            elapsed = loop.time() - start
            if elapsed >= window:
                if missing and may_resend:
                    return False
                if missing:
                    tr.declared_missing = True
                    self.update(tr, OrderStatus.REJECTED,
                                f"not found on Binance after {elapsed:.0f} s; not re-sent "
                                f"(the request had no clear answer: {why})")
                    return True
                if not told_unknown:
                    told_unknown = True
                    self.error(f"{it.client_id}: outcome still unknown after {elapsed:.0f} s "
                               "(look-ups fail too); not re-sending. The desk keeps looking "
                               "and checks again on every reconnect.")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tr.heard.wait(), timeout=delay)
            delay = min(delay * 2, self.settings.lookup_max_delay)

