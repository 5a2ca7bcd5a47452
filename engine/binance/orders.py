"""The desk's orders on Binance as the engine sees them: one record per order from intent to
final state, every exchange trade turned into exactly one ``Fill``.

- **Fills** are deduplicated by (symbol, trade id) whether they came from the user stream or
  from ``userTrades`` (REST catch-up after a reconnect or restart), in any order; a fill is
  reported even for an order already declared missing (money is never dropped).
- **Algo orders**: a triggered one spawns a regular order with its own order id and client
  id; that order's updates may arrive before the ALGO_UPDATE naming it (``ai``). They are
  held for ``orphan_wait_s``, then matched by asking the Algo service, so a stop's fills
  arrive as the stop's (its client id, role STOP)
  (https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Event-Algo-Order-Update).
- **Catch-up**: what the stream should have said is re-read over REST (``/fapi/v1/order`` and
  ``/fapi/v1/userTrades`` by orderId); an order's status goes out only once its fills do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tapedesk.engine.binance.errors import NOT_FOUND, VenueError
from tapedesk.engine.binance.rest import RestGate
from tapedesk.engine.binance.settings import LiveSettings
from tapedesk.engine.binance.user_events import (
    EXCHANGE_CLOSE_PREFIXES,
    AlgoEvent,
    OrderEvent,
)
from tapedesk.engine.client_ids import client_order_id, role_from_client_id  # noqa: F401
from tapedesk.engine.events import (
    Fill,
    Liquidity,
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderType,
    OrderUpdate,
)
from tapedesk.engine.symbols import SymbolSpec
from tapedesk.engine.venue import VenueSink

log = logging.getLogger(__name__)

ALGO_TYPES = (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)
FINAL = (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED)
_OPEN_ALGO = ("NEW", "TRIGGERING", "TRIGGERED")


def can_add_exposure(intent: OrderIntent) -> bool:
    """Only an order that cannot open or grow a position may ever be sent twice."""
    return not (intent.reduce_only or getattr(intent, "close_position", False))


def open_order_intents(orders: list[dict[str, Any]],
                       algos: list[dict[str, Any]]) -> list[OrderIntent]:
    """``openOrders`` and ``openAlgoOrders`` rows as intents with their real types, sides and
    triggers (a restarted desk compares them with its journal and tracks them again)."""
    out = []
    for o in orders:
        role = role_from_client_id(o["clientOrderId"]) or OrderRole.EXIT
        out.append(OrderIntent(
            client_id=o["clientOrderId"], symbol=o["symbol"], side=o["side"],
            type=OrderType(o["type"]) if o["type"] in OrderType.__members__ else
            OrderType.LIMIT, qty=Decimal(o["origQty"]), role=role, ts=int(o["time"]),
            price=Decimal(o["price"]) or None, reduce_only=bool(o.get("reduceOnly"))))
    for a in algos:
        otype = OrderType(a["orderType"])
        role = role_from_client_id(a["clientAlgoId"]) or (
            OrderRole.STOP if otype is OrderType.STOP_MARKET else OrderRole.TAKE_PROFIT)
        extra = {"close_position": True} if a.get("closePosition") in (True, "true") and (
            "close_position" in OrderIntent.__dataclass_fields__) else {}
        out.append(OrderIntent(
            client_id=a["clientAlgoId"], symbol=a["symbol"], side=a["side"], type=otype,
            qty=Decimal(a.get("quantity") or "0"), role=role, ts=int(a["createTime"]),
            stop_price=Decimal(a["triggerPrice"]),
            reduce_only=bool(a.get("reduceOnly") or a.get("closePosition")), **extra))
    return out


@dataclass
class Tracked:
    intent: OrderIntent
    algo: bool
    status: OrderStatus | None = None
    exchange_id: str = ""  # orderId, or algoId for conditional orders
    actual_order_id: str = ""  # the order an algo order spawned when it triggered
    filled: Decimal = Decimal(0)
    fills: int = 0
    declared_missing: bool = False  # reported "not found"; Binance may still prove it wrong
    cancel_wanted: bool = False  # canceled while its placement was still unknown
    unanswered: bool = False  # restored, journaled before sending, never answered (track)
    heard: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def known(self) -> bool:
        """Binance has said something about this order (stream or look-up)."""
        return bool(self.exchange_id or self.actual_order_id or self.fills) or self.status not in (
            None, OrderStatus.UNKNOWN)


class OrderBook:
    """The desk's orders on one Binance account and what the engine is told about them."""

    def __init__(self, gate: RestGate, settings: LiveSettings, spec: Callable[[str], SymbolSpec],
                 last_price: dict[str, float], now_ms: Callable[[], int],
                 spawn: Callable[[Any], None], fees: Callable[[], tuple[Decimal, Decimal]]):
        self.gate = gate
        self.settings = settings
        self._spec = spec
        self._last_price = last_price
        self._now_ms = now_ms
        self._spawn = spawn
        self._fees = fees  # (maker, taker): to value a fee Binance charged in another asset
        self.sink: VenueSink | None = None
        self.orders: dict[str, Tracked] = {}
        self.by_actual: dict[str, str] = {}  # spawned orderId -> algo client id
        self.seen_trades: set[tuple[str, str]] = set()
        self._orphans: dict[tuple[str, str], list[OrderEvent]] = {}
        self._warned_fee_asset = False

    async def lookup(self, tr: Tracked) -> dict[str, Any]:
        if tr.algo:
            return await self.gate.call("futures_get_algo_order", clientAlgoId=tr.intent.client_id)
        return await self.gate.call("futures_get_order", symbol=tr.intent.symbol,
                                    origClientOrderId=tr.intent.client_id)

    def adopt(self, tr: Tracked, row: dict[str, Any], spawn: bool = True) -> None:
        """A REST answer (placement or look-up) about a tracked order; ``spawn``: fetch missed
        fills in a task of their own (False: the caller awaits ``catch_up`` itself)."""
        tr.heard.set()
        if tr.algo:
            tr.exchange_id = str(row.get("algoId") or tr.exchange_id)
            if row.get("actualOrderId"):
                self.map_actual(tr, str(row["actualOrderId"]))
            self.algo_status(tr, row.get("algoStatus", "NEW"), row.get("rm", ""))
            return
        tr.exchange_id = str(row.get("orderId") or tr.exchange_id)
        status = row.get("status", "NEW")
        if Decimal(str(row.get("executedQty", "0"))) > tr.filled:
            self.update(tr, OrderStatus.NEW)
            if spawn:
                self._spawn(self.catch_up(tr, wait=self.settings.catch_up_wait_s))
        elif status in ("CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"):
            self.update(tr, _status(status), f"{status.lower()} by Binance")
        else:
            self.update(tr, OrderStatus.NEW)

    # -- REST catch-up ------------------------------------------------------------------------
    async def catch_up(self, tr: Tracked, wait: float = 0.0, tries: int = 5) -> None:
        """Fills the stream should have brought: the order's trades over REST (``userTrades``
        by orderId), each reported once, then its status once the fills account for it."""
        await asyncio.sleep(wait)
        order_id = tr.actual_order_id if tr.algo else tr.exchange_id
        if not order_id or tr.status is OrderStatus.FILLED:
            return  # FILLED goes out only once the fills account for it: nothing missing
        try:
            row = await self.gate.call("futures_get_order", symbol=tr.intent.symbol,
                                       orderId=order_id)
        except VenueError as exc:  # look-ups lag new orders: -2013 may only mean "not yet"
            if exc.code not in NOT_FOUND or tries <= 1:
                raise
            self._spawn(self.catch_up(tr, self.settings.catch_up_wait_s, tries - 1))
            return
        executed = Decimal(str(row.get("executedQty", "0")))
        if executed > tr.filled:
            trades = await self.gate.call("futures_account_trades", weight=5,
                                          symbol=tr.intent.symbol, orderId=order_id)
            for t in sorted(trades, key=lambda t: int(t["id"])):
                if str(t.get("orderId", order_id)) == order_id:
                    self.fill(tr, Decimal(str(t["qty"])), Decimal(str(t["price"])),
                              abs(Decimal(str(t["commission"]))), t.get("commissionAsset", "USDT"),
                              int(t["time"]), bool(t.get("maker")), str(t["id"]))
        if executed > tr.filled:  # userTrades can lag the order itself: ask again shortly
            if tries > 1:
                self._spawn(self.catch_up(tr, self.settings.catch_up_wait_s, tries - 1))
            else:
                self.error(f"{tr.intent.client_id}: Binance reports {executed} filled but "
                           f"only {tr.filled} in trades; reconcile")
            return
        status = row.get("status", "NEW")
        if status in ("FILLED", "PARTIALLY_FILLED"):
            self.update(tr, OrderStatus(status), filled=executed,
                        avg=Decimal(str(row.get("avgPrice", "0"))))
        elif status in ("CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"):
            self.update(tr, _status(status), f"{status.lower()} by Binance")

    async def resync(self, tr: Tracked) -> None:
        """One order, after a reconnect or a restart: its state and any fills missed, the
        fills *before* this returns, so a reconciliation that follows sees them."""
        try:
            row = await self.lookup(tr)
        except VenueError as exc:
            if exc.code in NOT_FOUND and tr.declared_missing:
                return  # still not there: nothing new to say
            if exc.code not in NOT_FOUND:
                self.error(f"resync of {tr.intent.client_id}: {exc.text}")
                return
            await asyncio.sleep(self.settings.catch_up_wait_s)  # look-ups lag: ask once more
            try:
                row = await self.lookup(tr)
            except VenueError as again:
                if again.code not in NOT_FOUND:
                    self.error(f"resync of {tr.intent.client_id}: {again.text}")
                    return
                if tr.unanswered:  # never sent: the order owner drops it and says so
                    tr.declared_missing = True  # asked no more; a fill still counts
                    log.info("%s was journaled but is not on Binance: never sent",
                             tr.intent.client_id)
                    return
                # Gone (Binance forgets cancelled/expired orders without fills). Said, not
                # settled here: reconciliation decides with the trader (re-protecting now
                # would race it with orders the exchange has not seen yet).
                self.error(f"{tr.intent.client_id} ({tr.intent.role}) is not on Binance "
                           "(any more); reconcile")
                return
        catch_up = not tr.algo and Decimal(str(row.get("executedQty", "0"))) > tr.filled
        self.adopt(tr, row, spawn=False)
        if catch_up or (tr.algo and tr.actual_order_id):
            try:
                await self.catch_up(tr)
            except VenueError as exc:  # the next reconnect's resync tries again
                self.error(f"fills of {tr.intent.client_id} not fetched yet: {exc.text}")

    async def resync_all(self) -> None:
        for tr in list(self.orders.values()):
            if tr.status in (None, OrderStatus.UNKNOWN) or (
                    tr.status in FINAL and not tr.declared_missing):
                continue  # in flight (its placement settles it), or done
            await self.resync(tr)

    # -- the user stream -----------------------------------------------------------------------
    def on_order_event(self, ev: OrderEvent) -> None:
        cid = self.by_actual.get(ev.order_id)
        if cid is None and ev.client_id in self.orders:
            cid = ev.client_id
        if cid is None:
            self._orphan(ev)
            return
        self._apply(self.orders[cid], ev)

    def on_algo_event(self, ev: AlgoEvent) -> None:
        tr = self.orders.get(ev.client_algo_id)
        if tr is None:
            log.info("algo update for an order the desk did not place: %s %s",
                     ev.client_algo_id, ev.status)
            return
        tr.heard.set()
        tr.exchange_id = ev.algo_id or tr.exchange_id
        if ev.actual_order_id:
            self.map_actual(tr, ev.actual_order_id)
        self.algo_status(tr, ev.status, ev.reason)

    def map_actual(self, tr: Tracked, order_id: str) -> None:
        """``order_id`` is the regular order ``tr`` (an algo order) spawned: its held
        updates, if any arrived first, are applied now."""
        tr.actual_order_id = order_id
        self.by_actual[order_id] = tr.intent.client_id
        for ev in self._orphans.pop((tr.intent.symbol, order_id), []):
            self._apply(tr, ev)

    def algo_status(self, tr: Tracked, status: str, reason: str = "") -> None:
        if status in _OPEN_ALGO:
            self.update(tr, OrderStatus.NEW)
        elif status == "CANCELED":
            self.update(tr, OrderStatus.CANCELED)
        elif status == "EXPIRED":
            self.update(tr, OrderStatus.EXPIRED, "expired by Binance (position gone?)")
        elif status == "REJECTED":
            self.update(tr, OrderStatus.REJECTED,
                        f"triggered, but the order it sent was rejected: "
                        f"{reason or 'no reason given'}")
        elif status == "FINISHED" and tr.actual_order_id and tr.status is not OrderStatus.FILLED:
            self._spawn(self.catch_up(tr, wait=self.settings.catch_up_wait_s))

    def _apply(self, tr: Tracked, ev: OrderEvent) -> None:
        tr.heard.set()
        if tr.algo:
            if not tr.actual_order_id:
                self.map_actual(tr, ev.order_id)
        elif not tr.exchange_id:
            tr.exchange_id = ev.order_id
        if ev.exec_type in ("TRADE", "CALCULATED") and ev.last_qty:  # CALCULATED: liquidation
            self.fill(tr, ev.last_qty, ev.last_price, ev.fee, ev.fee_asset, ev.trade_ts,
                      ev.maker, ev.trade_id)
            if ev.cum_qty > tr.filled:  # a trade before this one never reached the desk
                self._spawn(self.catch_up(tr, wait=self.settings.catch_up_wait_s))
            else:
                self.update(tr, _status(ev.status), filled=ev.cum_qty, avg=ev.avg_price)
        elif ev.exec_type == "NEW" and not tr.algo:
            self.update(tr, OrderStatus.NEW)
        elif ev.status in ("CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"):
            self.update(tr, _status(ev.status), f"{ev.status.lower()} by Binance")

    def _orphan(self, ev: OrderEvent) -> None:
        if ev.client_id.startswith(EXCHANGE_CLOSE_PREFIXES):
            self._exchange_close(ev)
            return
        key = (ev.symbol, ev.order_id)
        first = key not in self._orphans
        self._orphans.setdefault(key, []).append(ev)
        if first:
            self._spawn(self._claim_orphan(key))

    async def _claim_orphan(self, key: tuple[str, str]) -> None:
        """An update no tracked order claims: perhaps the order one of our algo orders just
        spawned, with the ALGO_UPDATE naming it still to come. Wait for it, then ask."""
        await asyncio.sleep(self.settings.orphan_wait_s)
        symbol = key[0]
        for tr in [t for t in self.orders.values() if t.algo and t.intent.symbol == symbol
                   and not t.actual_order_id and t.status not in FINAL]:
            if key not in self._orphans:
                return
            with contextlib.suppress(VenueError):
                self.adopt(tr, await self.lookup(tr))
        for ev in self._orphans.pop(key, []):
            log.info("update for an order the desk did not place: %s %s %s", ev.client_id,
                     ev.exec_type, ev.status)
            if ev.exec_type in ("TRADE", "CALCULATED") and ev.last_qty:  # CALCULATED: liquidation
                self.error(f"a trade the desk did not place: {ev.side} {ev.last_qty} "
                           f"{ev.symbol} @ {ev.last_price} (order {ev.client_id or ev.order_id});"
                           " the position differs from the desk's: reconcile")

    def _exchange_close(self, ev: OrderEvent) -> None:
        """Liquidation / ADL / settlement: Binance's own order, reported as role LIQUIDATION."""
        cid = ev.client_id
        tr = self.orders.get(cid)
        if tr is None:
            tr = self.orders[cid] = Tracked(OrderIntent(
                cid, ev.symbol, ev.side, OrderType.MARKET, Decimal(0), OrderRole.LIQUIDATION,
                ev.trade_ts, reduce_only=True), algo=False, status=OrderStatus.NEW)
            self.error(f"Binance is closing {ev.symbol} itself ({cid}): liquidation or "
                       "auto-deleveraging")
        self._apply(tr, ev)

    # -- to the engine ------------------------------------------------------------------------
    def fill(self, tr: Tracked, qty: Decimal, price: Decimal, fee: Decimal, fee_asset: str,
             ts: int, maker: bool, trade_id: str) -> None:
        key = (tr.intent.symbol, trade_id)
        if key in self.seen_trades or qty <= 0:
            return  # the stream and a REST catch-up both reported it
        self.seen_trades.add(key)
        if fee_asset != "USDT":
            # BNB fee discount: the fee was paid in BNB; value it at the account's USDT rate
            # (an upper bound: the discount makes the real cost ~10 % lower).
            maker_fee, taker_fee = self._fees()
            fee = (qty * price * (maker_fee if maker else taker_fee)).quantize(Decimal("1e-8"))
            if not self._warned_fee_asset:
                self._warned_fee_asset = True
                self.error(f"fees are paid in {fee_asset}: the desk counts them at the USDT "
                           "rate; turn off the BNB fee discount for exact P&L")
        if tr.declared_missing:
            self.error(f"{tr.intent.client_id}, reported not found, filled after all: "
                       "reporting its fills")
        tr.fills += 1
        tr.filled += qty
        it = tr.intent
        if self.sink:
            self.sink.on_fill(Fill(it.client_id, it.symbol, it.side, qty, price, fee, ts,
                                   Liquidity.MAKER if maker else Liquidity.TAKER, it.role,
                                   seq=tr.fills, trade_id=trade_id))

    def update(self, tr: Tracked, status: OrderStatus, reason: str = "",
               filled: Decimal | None = None, avg: Decimal = Decimal(0)) -> None:
        if tr.status in FINAL:
            if not (tr.declared_missing and status is not OrderStatus.REJECTED):
                return
            tr.declared_missing = False  # it exists after all: its real state goes out
        if status is OrderStatus.UNKNOWN and tr.status is not None:
            return
        if status is tr.status and status is not OrderStatus.PARTIALLY_FILLED:
            return
        if status is OrderStatus.NEW and tr.status is OrderStatus.PARTIALLY_FILLED:
            return
        tr.status = status
        if self.sink:
            self.sink.on_order_update(OrderUpdate(
                tr.intent.client_id, tr.intent.symbol, status, self._now_ms(), reason,
                filled_qty=tr.filled if filled is None else filled, avg_price=avg))

    def error(self, text: str) -> None:
        log.warning(text)
        if self.sink:
            self.sink.on_venue_error(text)

    def open_symbols(self) -> set[str]:
        return {tr.intent.symbol for tr in self.orders.values() if tr.status not in FINAL}


def _status(text: str) -> OrderStatus:
    return OrderStatus.EXPIRED if text == "EXPIRED_IN_MATCH" else OrderStatus(text)
