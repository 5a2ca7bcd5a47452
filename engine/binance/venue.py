"""``BinanceVenue``: real orders on Binance USDT-M (or a local exchange) behind the Venue API.

Shape of one trade, as this venue places it:
- at start: exchangeInfo filters and leverage brackets per symbol, one-way position mode
  required, ISOLATED margin and leverage ≤ the desk's cap set per symbol;
- entries and exits: ``/fapi/v1/order`` (MARKET/LIMIT) with ``newClientOrderId`` = the
  intent's client id;
- stop-loss / take-profit: since 2025-12-09 Binance takes STOP_MARKET and TAKE_PROFIT_MARKET
  only through the Algo Order service (``POST /fapi/v1/algoOrder``, ``algoType=CONDITIONAL``,
  ``triggerPrice``, ``clientAlgoId``; ``/fapi/v1/order`` answers -4120). They are sent
  reduce-only, so a protective order can never open or grow a position
  (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Algo-Order).

What happens to orders comes back on the user-data stream (ORDER_TRADE_UPDATE, ALGO_UPDATE,
ACCOUNT_UPDATE) and is turned into ``OrderUpdate`` and ``Fill`` for the engine. Whenever the
stream (re)connects, the venue re-reads every order it tracks over REST and fetches the trades
of any fill it has not seen, so a disconnect never loses a fill and a replayed one is dropped
by its trade id.

Client order ids are idempotency keys: an order whose outcome is unknown (5xx, timeout) is
looked up by its client id before anything is sent again, and re-sent, under the same id,
only when Binance says it does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from binance import BinanceSocketManager
from tapedesk.engine.binance.endpoints import Endpoints, apply_to_socket_manager
from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.binance.rest import RestGate
from tapedesk.engine.binance.startup import (
    AccountCheck,
    LiveAborted,
    apply_account_setup,
    check_account,
)
from tapedesk.engine.binance.streams import StreamSupervisor
from tapedesk.engine.events import (
    Fill,
    Liquidity,
    MarketEvent,
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
)
from tapedesk.engine.snapshot import FeedStatus
from tapedesk.engine.symbols import SymbolSpec
from tapedesk.engine.venue import VenueSink

log = logging.getLogger(__name__)

ALGO_TYPES = (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)
_ROLE_CODES = {OrderRole.ENTRY: "e", OrderRole.STOP: "s", OrderRole.TAKE_PROFIT: "t",
               OrderRole.EXIT: "x", OrderRole.FLATTEN: "f"}
_CODE_ROLES = {v: k for k, v in _ROLE_CODES.items()}
_FINAL = (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED)


def client_order_id(token: str, role: OrderRole) -> str:
    """``td-<token>-<role letter>``: Binance allows ``[.A-Z:/a-z0-9_-]{1,36}``; the role letter
    lets a restarted desk tell an exchange order's purpose (reconciliation)."""
    cid = f"td-{token}-{_ROLE_CODES.get(role, 'x')}"
    if len(cid) > 36:
        raise ValueError(f"client order id too long: {cid}")
    return cid


def role_from_client_id(client_id: str) -> OrderRole | None:
    """The role a desk-made client id carries; None for an order the desk did not make."""
    if not client_id.startswith("td-"):
        return None
    return _CODE_ROLES.get(client_id.rsplit("-", 1)[-1])


@dataclass
class _Tracked:
    intent: OrderIntent
    algo: bool
    status: OrderStatus | None = None
    exchange_id: str = ""  # orderId, or algoId for conditional orders
    actual_order_id: str = ""  # the order an algo order spawned when it triggered
    filled: Decimal = Decimal(0)
    fills: int = 0


@dataclass
class LiveSettings:
    max_leverage: int = 5
    working_type: str = "MARK_PRICE"  # what triggers stops: mark price resists wicks
    keepalive_s: float = 30 * 60  # listenKey keepalive (valid 60 min after each keepalive)
    ping_interval: float = 20.0
    max_queue_size: int = 2000
    user_max_age: float | None = 23.5 * 3600
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    lookup_attempts: int = 8
    lookup_delay: float = 0.5
    flat_poll_s: float = 0.5
    flat_rounds: int = 40


@dataclass
class StartupReport:
    """What ``start`` found and did, for the log and the live confirmation screen."""

    balance: Decimal = Decimal(0)
    position_mode: str = "one-way"
    margin: dict[str, str] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class BinanceVenue:
    name = "binance"
    simulated = False

    def __init__(
        self,
        gate: RestGate,
        endpoints: Endpoints,
        symbols: list[str] | tuple[str, ...],
        settings: LiveSettings | None = None,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.gate = gate
        self.client = gate.client
        self.endpoints = endpoints
        self.symbols = [s.upper() for s in symbols]
        self.settings = settings or LiveSettings()
        self._now_ms = now_ms or (lambda: gate._server_ms())
        self.specs: dict[str, SymbolSpec] = {}
        self.leverage: dict[str, int] = {}
        self.orders: dict[str, _Tracked] = {}
        self._by_actual: dict[str, str] = {}  # spawned orderId -> algo client id
        self._seen_trades: set[str] = set()
        self.positions: dict[str, Position] = {}
        self.last_price: dict[str, float] = {}
        self.balance = Decimal(0)
        self.report = StartupReport()
        self._sink: VenueSink | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self.user_stream = StreamSupervisor(
            "user", self._user_socket, self._on_user_message, on_status=self._user_status,
            on_connected=self.resync, stale_after=None, restart_after=None,
            max_age=self.settings.user_max_age, backoff_base=self.settings.backoff_base,
            backoff_max=self.settings.backoff_max)

    # -- Venue API ----------------------------------------------------------------------
    def bind(self, sink: VenueSink) -> None:
        self._sink = sink

    def on_market(self, event: MarketEvent) -> None:
        """The exchange fills real orders; the last price only values orders for the local
        min-notional check (so a too-small order is refused before it is sent)."""
        price = getattr(event, "price", None) or getattr(event, "ask", None) or getattr(
            event, "close", None) or getattr(event, "mark", None)
        if price:
            self.last_price[event.symbol] = price

    @property
    def api_weight(self) -> int:
        return self.gate.limits.weight_used

    def spec(self, symbol: str) -> SymbolSpec:
        try:
            return self.specs[symbol]
        except KeyError:
            raise VenueError(f"{symbol} is not set up on this venue (not in exchangeInfo "
                             "or not in the desk's symbols)") from None

    #: The account check that ``setup`` acted on (None until then).
    account_check: AccountCheck | None = None

    async def setup(self, check: AccountCheck) -> list[str]:
        """After the user confirmed: ISOLATED margin and leverage (``engine.binance.startup``),
        then this venue's own state. Opens no stream: ``start`` does, once."""
        changes = await apply_account_setup(self.gate, check)
        self.account_check = check
        self.specs.update(check.specs)
        await self._load_brackets()
        for st in check.states.values():
            self.leverage[st.symbol] = int(st.leverage or st.target_leverage)
            self.report.leverage[st.symbol] = self.leverage[st.symbol]
            self.report.margin[st.symbol] = st.margin_type or "ISOLATED"
        self.report.notes.extend(changes)
        self.balance = await self.fetch_balance()
        self.report.balance = self.balance
        return changes

    async def start(self) -> None:
        """Open the user-data stream (one listenKey). Runs once: a second call does nothing.
        Without a prior ``setup`` (tests, tools) it checks and sets up the account first."""
        if self._started:
            return
        if self.account_check is None:
            try:
                check = await check_account(self.gate, self.endpoints, self.symbols,
                                            self.settings.max_leverage)
                await self.setup(check)
            except LiveAborted as exc:
                raise VenueError(str(exc)) from None
        self._started = True
        self.user_stream.start()

    async def close(self) -> None:
        await self.user_stream.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def set_leverage(self, symbol: str, leverage: int) -> None:
        self._spawn(self.set_leverage_async(symbol, leverage))

    async def set_leverage_async(self, symbol: str, leverage: int) -> int:
        lev = max(1, min(int(leverage), self.settings.max_leverage))
        if self.leverage.get(symbol) == lev:
            return lev
        res = await self.gate.call("futures_change_leverage", symbol=symbol, leverage=lev)
        self.leverage[symbol] = int(res.get("leverage", lev))
        self.report.leverage[symbol] = self.leverage[symbol]
        return self.leverage[symbol]

    def submit(self, intent: OrderIntent) -> None:
        """Never blocks the engine loop: the REST call runs in a task of its own."""
        self.orders[intent.client_id] = _Tracked(intent, intent.type in ALGO_TYPES)
        self._spawn(self._place(self.orders[intent.client_id]))

    def track(self, intents: list[OrderIntent]) -> None:
        """Resume managing orders that are open on the exchange (after a restart, once
        reconciliation matched them with the journal or the user adopted them)."""
        for it in intents:
            if it.client_id not in self.orders:
                self.orders[it.client_id] = _Tracked(it, it.type in ALGO_TYPES,
                                                     status=OrderStatus.NEW)

    def cancel(self, symbol: str, client_id: str) -> None:
        self._spawn(self.cancel_async(symbol, client_id))

    async def cancel_async(self, symbol: str, client_id: str) -> None:
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
                return
            self._error(f"Could not cancel {client_id}: {exc.text}")
            return
        if tr is not None:
            self._update(tr, OrderStatus.CANCELED, "canceled by the desk")

    async def cancel_all(self, symbol: str | None = None) -> None:
        """Regular *and* algo orders: ``allOpenOrders`` does not touch the Algo service."""
        for sym in [symbol] if symbol else self._traded_symbols():
            await self.gate.call("futures_cancel_all_open_orders", symbol=sym)
            await self.gate.call("futures_cancel_all_algo_open_orders", symbol=sym)

    async def fetch_positions(self) -> dict[str, Position]:
        rows = await self.gate.call("futures_position_information", weight=5)
        out: dict[str, Position] = {}
        for row in rows:
            amt = Decimal(row["positionAmt"])
            if not amt:
                continue
            sym = row["symbol"]
            out[sym] = Position(
                symbol=sym, side=Side.LONG if amt > 0 else Side.SHORT, qty=abs(amt),
                entry_price=Decimal(row["entryPrice"]), leverage=self.leverage.get(sym, 0),
                opened_ts=int(row.get("updateTime", 0)),
                margin=Decimal(row.get("isolatedWallet", "0")),
                liquidation_price=Decimal(row.get("liquidationPrice", "0")))
        self.positions = out
        return out

    async def fetch_open_orders(self) -> list[OrderIntent]:
        out = []
        for o in await self.gate.call("futures_get_open_orders", weight=40):
            role = role_from_client_id(o["clientOrderId"]) or OrderRole.EXIT
            out.append(OrderIntent(
                client_id=o["clientOrderId"], symbol=o["symbol"], side=o["side"],
                type=OrderType(o["type"]) if o["type"] in OrderType.__members__ else
                OrderType.LIMIT, qty=Decimal(o["origQty"]), role=role, ts=int(o["time"]),
                price=Decimal(o["price"]) or None, reduce_only=bool(o.get("reduceOnly"))))
        for a in await self.gate.call("futures_get_open_algo_orders"):
            otype = OrderType(a["orderType"])
            role = role_from_client_id(a["clientAlgoId"]) or (
                OrderRole.STOP if otype is OrderType.STOP_MARKET else OrderRole.TAKE_PROFIT)
            out.append(OrderIntent(
                client_id=a["clientAlgoId"], symbol=a["symbol"], side=a["side"], type=otype,
                qty=Decimal(a.get("quantity") or "0"), role=role, ts=int(a["createTime"]),
                stop_price=Decimal(a["triggerPrice"]),
                reduce_only=bool(a.get("reduceOnly") or a.get("closePosition"))))
        return out

    async def fetch_balance(self) -> Decimal:
        for row in await self.gate.call("futures_account_balance", weight=5):
            if row.get("asset") == "USDT":
                return Decimal(row["balance"])
        return Decimal(0)

    async def close_position(self, position: Position) -> None:
        """Close one position reduce-only at market (reconciliation's "flatten")."""
        token = f"{position.symbol[:6]}{self._now_ms():x}"
        intent = OrderIntent(
            client_id=client_order_id(token, OrderRole.FLATTEN), symbol=position.symbol,
            side=position.side.opposite.order_side, type=OrderType.MARKET, qty=position.qty,
            role=OrderRole.FLATTEN, ts=self._now_ms(), reduce_only=True)
        self.orders[intent.client_id] = _Tracked(intent, False)
        await self._place(self.orders[intent.client_id])

    # -- emergency stop --------------------------------------------------------------------
    async def flatten_all(self, say: Callable[[str], None] = log.warning) -> bool:
        """Cancel every regular and algo order, close every position reduce-only at market,
        and poll until Binance reports flat with nothing open. REST only: it works with the
        market-data stream down. Returns True once verified flat."""
        st = self.settings
        for rnd in range(1, st.flat_rounds + 1):
            try:
                await self.cancel_all()
                say(f"emergency stop: canceled all regular and algo orders (round {rnd})")
                positions = await self.fetch_positions()
                for sym, pos in positions.items():
                    say(f"emergency stop: closing {pos.side} {pos.qty} {sym} reduce-only")
                    await self.close_position(pos)
                await asyncio.sleep(st.flat_poll_s)
                positions = await self.fetch_positions()
                open_orders = await self.fetch_open_orders()
                if not positions and not open_orders:
                    say("emergency stop: verified flat with Binance: no position, no open "
                        "order, no open algo order")
                    return True
                say(f"emergency stop: not flat yet ({len(positions)} position(s), "
                    f"{len(open_orders)} open order(s)); retrying")
            except VenueError as exc:
                say(f"emergency stop: {exc.text}; retrying")
                wait = exc.retry_after or st.flat_poll_s
                await asyncio.sleep(min(wait, 30.0))
        return False

    # -- placing ---------------------------------------------------------------------------
    def _params(self, tr: _Tracked) -> tuple[str, dict[str, Any]]:
        it = tr.intent
        spec = self.spec(it.symbol)
        qty = spec.round_qty(it.qty, market=it.type is not OrderType.LIMIT)
        if tr.algo:
            assert it.stop_price is not None, "a stop/take-profit needs stop_price"
            return "futures_create_algo_order", {
                "algoType": "CONDITIONAL", "symbol": it.symbol, "side": it.side,
                "type": it.type.value, "quantity": str(qty),
                "triggerPrice": str(spec.round_price(it.stop_price)),
                "workingType": self.settings.working_type, "reduceOnly": "true",
                "clientAlgoId": it.client_id}
        params: dict[str, Any] = {"symbol": it.symbol, "side": it.side, "type": it.type.value,
                                  "quantity": str(qty), "newClientOrderId": it.client_id,
                                  "newOrderRespType": "RESULT"}
        if it.type is OrderType.LIMIT:
            assert it.price is not None, "a limit order needs a price"
            params["price"] = str(spec.round_price(it.price))
            params["timeInForce"] = "GTC"
        if it.reduce_only:
            params["reduceOnly"] = "true"
        return "futures_create_order", params

    def _local_reject(self, tr: _Tracked) -> str:
        it = tr.intent
        spec = self.spec(it.symbol)
        qty = spec.round_qty(it.qty, market=it.type is not OrderType.LIMIT)
        if qty <= 0:
            return f"quantity {it.qty} rounds to 0 at step {spec.step_size}"
        if it.reduce_only or tr.algo:
            return ""
        last = self.last_price.get(it.symbol)
        price = it.price or (Decimal(str(last)) if last else None)
        return (spec.check_order(qty, price) or "") if price else ""

    async def _place(self, tr: _Tracked) -> None:
        it = tr.intent
        try:
            why = self._local_reject(tr)
            method, params = self._params(tr)
        except VenueError as exc:
            why, method, params = exc.text, "", {}
        if why:
            self._update(tr, OrderStatus.REJECTED, f"not sent: {why}")
            return
        resent = False
        while True:
            try:
                res = await self.gate.call(method, order=True,
                                           retry_429=it.role is not OrderRole.ENTRY, **params)
            except VenueError as exc:
                if not exc.unknown_outcome:
                    self._update(tr, OrderStatus.REJECTED, exc.text)
                    return
                self._error(f"{it.role} order {it.client_id}: {exc.text}; looking it up by "
                            "its client id before anything is sent again")
                found = await self._lookup(tr)
                if found is not None:
                    self._adopt(tr, found)
                    return
                if resent:
                    self._update(tr, OrderStatus.REJECTED, "not accepted after one re-send")
                    return
                resent = True
                self._error(f"{it.client_id} does not exist on Binance: sending it again "
                            "under the same client id")
                continue
            self._adopt(tr, res)
            return

    async def _lookup(self, tr: _Tracked) -> dict[str, Any] | None:
        """The order as Binance knows it; None only when Binance says it does not exist.
        Keeps asking while the answer itself is unknown (never guesses)."""
        it = tr.intent
        attempt = 0
        while True:
            attempt += 1
            try:
                if tr.algo:
                    return await self.gate.call("futures_get_algo_order",
                                                clientAlgoId=it.client_id)
                return await self.gate.call("futures_get_order", symbol=it.symbol,
                                            origClientOrderId=it.client_id)
            except VenueError as exc:
                if exc.code == -2013:
                    return None
                if attempt >= self.settings.lookup_attempts:
                    self._error(f"{it.client_id}: outcome still unknown after {attempt} "
                                "look-ups; not re-sending. The desk checks again on every "
                                "reconnect; reconcile before trading on.")
                    raise
                await asyncio.sleep(self.settings.lookup_delay * attempt)

    def _adopt(self, tr: _Tracked, row: dict[str, Any]) -> None:
        """A REST answer (placement or look-up) about a tracked order."""
        if tr.algo:
            tr.exchange_id = str(row.get("algoId", ""))
            status = row.get("algoStatus", "NEW")
            if row.get("actualOrderId"):
                tr.actual_order_id = str(row["actualOrderId"])
                self._by_actual[tr.actual_order_id] = tr.intent.client_id
            self._algo_status(tr, status, row.get("rm", ""))
            return
        tr.exchange_id = str(row.get("orderId", ""))
        self._update(tr, OrderStatus.NEW)
        executed = Decimal(row.get("executedQty", "0"))
        if executed > tr.filled:
            self._spawn(self._catch_up_fills(tr))
        elif row.get("status") in ("CANCELED", "EXPIRED", "REJECTED"):
            self._update(tr, OrderStatus(row["status"]))

    async def _catch_up_fills(self, tr: _Tracked, wait: float = 1.0) -> None:
        """Fills the stream should bring; if it has not within ``wait`` s, ask REST."""
        await asyncio.sleep(wait)
        order_id = tr.actual_order_id if tr.algo else tr.exchange_id
        if not order_id or tr.status in _FINAL:
            return
        trades = await self.gate.call("futures_account_trades", weight=5,
                                      symbol=tr.intent.symbol, orderId=order_id)
        for t in trades:
            self._fill(tr, qty=Decimal(t["qty"]), price=Decimal(t["price"]),
                       fee=Decimal(t["commission"]), ts=int(t["time"]), maker=bool(t["maker"]),
                       trade_id=str(t["id"]))
        row = await self.gate.call("futures_get_order", symbol=tr.intent.symbol,
                                   orderId=order_id)
        self._order_row_status(tr, row)

    def _order_row_status(self, tr: _Tracked, row: dict[str, Any]) -> None:
        status = row.get("status", "NEW")
        if status in ("FILLED", "PARTIALLY_FILLED"):
            self._update(tr, OrderStatus(status), filled=Decimal(row["executedQty"]),
                         avg=Decimal(row.get("avgPrice", "0")))
        elif status in ("CANCELED", "EXPIRED", "REJECTED"):
            self._update(tr, OrderStatus(status))

    async def resync(self) -> None:
        """After (re)connecting the user stream: what happened while nobody listened."""
        if not self._started and not self.orders:
            return
        for tr in list(self.orders.values()):
            if tr.status in _FINAL or (not tr.exchange_id and not tr.algo):
                continue
            try:
                if tr.algo:
                    row = await self.gate.call("futures_get_algo_order",
                                               clientAlgoId=tr.intent.client_id)
                    self._adopt(tr, row)
                    if tr.actual_order_id:
                        self._spawn(self._catch_up_fills(tr, wait=0))
                else:
                    row = await self.gate.call("futures_get_order", symbol=tr.intent.symbol,
                                               origClientOrderId=tr.intent.client_id)
                    if Decimal(row.get("executedQty", "0")) > tr.filled:
                        await self._catch_up_fills(tr, wait=0)
                    else:
                        self._order_row_status(tr, row)
            except VenueError as exc:
                self._error(f"resync of {tr.intent.client_id}: {exc.text}")
        with contextlib.suppress(VenueError):
            await self.fetch_positions()
            self.balance = await self.fetch_balance()

    # -- user-data stream -----------------------------------------------------------------
    def _user_socket(self) -> Any:
        bsm = BinanceSocketManager(self.client, user_timeout=self.settings.keepalive_s,
                                   max_queue_size=self.settings.max_queue_size)
        apply_to_socket_manager(bsm, self.endpoints)
        bsm.ws_kwargs.update(ping_interval=self.settings.ping_interval,
                             ping_timeout=self.settings.ping_interval)
        return bsm.futures_user_socket()

    def _user_status(self, status: FeedStatus, text: str) -> None:
        if status in (FeedStatus.RECONNECTING, FeedStatus.DISCONNECTED) and self._started:
            self._error(f"user-data stream {status.value}: {text}")

    def _on_user_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("e")
        if kind == "ORDER_TRADE_UPDATE":
            self._on_order_trade_update(msg["o"])
        elif kind == "ALGO_UPDATE":
            o = msg["o"]
            tr = self.orders.get(o.get("caid", ""))
            if tr is None:
                return
            if o.get("ai"):
                tr.actual_order_id = str(o["ai"])
                self._by_actual[tr.actual_order_id] = tr.intent.client_id
            self._algo_status(tr, o.get("X", ""), o.get("rm", ""))
        elif kind == "ACCOUNT_UPDATE":
            self._on_account_update(msg["a"])
        elif kind == "listenKeyExpired":
            self._error("user-data listenKey expired: opening a new stream and resyncing")
            self.user_stream.request_restart("listenKeyExpired")

    def _on_order_trade_update(self, o: dict[str, Any]) -> None:
        cid = self._by_actual.get(str(o.get("i")), o.get("c", ""))
        tr = self.orders.get(cid)
        if tr is None:
            log.info("update for an order the desk did not place: %s %s", o.get("c"), o.get("X"))
            return
        if not tr.algo:
            tr.exchange_id = tr.exchange_id or str(o.get("i", ""))
        else:
            tr.actual_order_id = tr.actual_order_id or str(o.get("i", ""))
            self._by_actual[tr.actual_order_id] = cid
        exec_type, status = o.get("x"), o.get("X")
        if exec_type == "TRADE":
            self._fill(tr, qty=Decimal(o["l"]), price=Decimal(o["L"]), fee=Decimal(o.get("n") or 0),
                       ts=int(o["T"]), maker=bool(o.get("m")), trade_id=str(o["t"]))
            self._update(tr, OrderStatus(status), filled=Decimal(o["z"]),
                         avg=Decimal(o.get("ap") or 0))
        elif exec_type == "NEW" and not tr.algo:
            self._update(tr, OrderStatus.NEW)
        elif status in ("CANCELED", "EXPIRED", "REJECTED"):
            self._update(tr, OrderStatus(status), f"{status.lower()} by Binance")

    def _algo_status(self, tr: _Tracked, status: str, reason: str = "") -> None:
        if status in ("NEW", "TRIGGERING", "TRIGGERED"):
            self._update(tr, OrderStatus.NEW)
        elif status == "CANCELED":
            self._update(tr, OrderStatus.CANCELED)
        elif status == "EXPIRED":
            self._update(tr, OrderStatus.EXPIRED, "expired by Binance (position gone?)")
        elif status == "REJECTED":
            self._update(tr, OrderStatus.REJECTED,
                         f"the triggered order was rejected: {reason or 'no reason given'}")
        elif status == "FINISHED" and tr.filled == 0:
            self._spawn(self._catch_up_fills(tr))

    def _on_account_update(self, a: dict[str, Any]) -> None:
        for b in a.get("B", []):
            if b.get("a") == "USDT":
                self.balance = Decimal(b["wb"])
        for p in a.get("P", []):
            sym, amt = p["s"], Decimal(p["pa"])
            if not amt:
                self.positions.pop(sym, None)
                continue
            self.positions[sym] = Position(
                symbol=sym, side=Side.LONG if amt > 0 else Side.SHORT, qty=abs(amt),
                entry_price=Decimal(p["ep"]), leverage=self.leverage.get(sym, 0),
                opened_ts=self._now_ms(), margin=Decimal(p.get("iw", "0")))

    # -- to the engine ----------------------------------------------------------------------
    def _fill(self, tr: _Tracked, qty: Decimal, price: Decimal, fee: Decimal, ts: int,
              maker: bool, trade_id: str) -> None:
        if trade_id in self._seen_trades:
            return  # the stream and a REST catch-up both reported it
        self._seen_trades.add(trade_id)
        tr.fills += 1
        tr.filled += qty
        it = tr.intent
        fill = Fill(it.client_id, it.symbol, it.side, qty, price, fee, ts,
                    Liquidity.MAKER if maker else Liquidity.TAKER, it.role, seq=tr.fills,
                    trade_id=trade_id)
        if self._sink:
            self._sink.on_fill(fill)

    def _update(self, tr: _Tracked, status: OrderStatus, reason: str = "",
                filled: Decimal | None = None, avg: Decimal = Decimal(0)) -> None:
        if tr.status in _FINAL or (status is tr.status and status is not
                                   OrderStatus.PARTIALLY_FILLED):
            return
        if status is OrderStatus.NEW and tr.status is OrderStatus.PARTIALLY_FILLED:
            return
        tr.status = status
        if self._sink:
            self._sink.on_order_update(OrderUpdate(
                tr.intent.client_id, tr.intent.symbol, status, self._now_ms(), reason,
                filled_qty=tr.filled if filled is None else filled, avg_price=avg))

    def _error(self, text: str) -> None:
        log.warning(text)
        if self._sink:
            self._sink.on_venue_error(text)

    # -- setup helpers ------------------------------------------------------------------------
    async def _load_brackets(self) -> None:
        for sym in self.symbols:
            try:
                rows = await self.gate.call("futures_leverage_bracket", symbol=sym)
            except VenueError as exc:
                self.report.notes.append(f"{sym}: leverage brackets not read ({exc.text})")
                continue
            row = rows[0] if isinstance(rows, list) else rows
            first = row["brackets"][0]
            self.specs[sym] = dataclasses.replace(
                self.specs[sym], maint_margin_rate=Decimal(str(first["maintMarginRatio"])),
                maint_amount=Decimal(str(first.get("cum", 0))))

    def _traded_symbols(self) -> list[str]:
        syms = set(self.symbols) | set(self.positions)
        syms |= {tr.intent.symbol for tr in self.orders.values() if tr.status not in _FINAL}
        return sorted(syms)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            text = exc.text if isinstance(exc, VenueError) else f"{type(exc).__name__}: {exc}"
            self._error(f"venue task failed: {text}")
