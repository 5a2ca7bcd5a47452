"""A Binance USDT-M look-alike on 127.0.0.1: REST under ``/fapi``, streams under ``/market``,
``/public`` and ``/private`` (the 2026 split), with faults a test can switch on.

The desk's real ``BinanceVenue`` and python-binance client talk to it through the URL
overrides (``rest_url`` / ``ws_url``). It checks API keys, HMAC signatures and timestamps,
counts request weight and order rate like Binance and answers with Binance's headers and error
bodies. Nothing here reaches beyond the loopback interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.local_exchange.state import (
    DEFAULT_SYMBOLS,
    Account,
    ApiError,
    SymbolInfo,
    fmt,
    now_ms,
)

# Request weights as Binance documents them (USDT-M REST), for the endpoints the desk uses.
WEIGHTS = {
    "/fapi/v1/exchangeInfo": 1, "/fapi/v1/time": 1, "/fapi/v1/ping": 1,
    "/fapi/v2/account": 5, "/fapi/v3/account": 5, "/fapi/v3/balance": 5,
    "/fapi/v3/positionRisk": 5, "/fapi/v2/positionRisk": 5, "/fapi/v1/positionSide/dual": 30,
    "/fapi/v1/multiAssetsMargin": 30, "/fapi/v1/commissionRate": 20,
    "/fapi/v1/leverageBracket": 1, "/fapi/v1/userTrades": 5, "/fapi/v1/allOrders": 5,
    "/fapi/v1/openOrders": 1, "/fapi/v1/apiTradingStatus": 1, "/fapi/v1/symbolConfig": 5,
}
SIGNED_PREFIXES = ("/fapi/v1/order", "/fapi/v1/openOrders", "/fapi/v1/allOpenOrders",
                   "/fapi/v1/algoOrder", "/fapi/v1/openAlgoOrders", "/fapi/v1/algoOpenOrders",
                   "/fapi/v1/allAlgoOrders", "/fapi/v2/account", "/fapi/v3/account",
                   "/fapi/v3/balance", "/fapi/v2/positionRisk", "/fapi/v3/positionRisk",
                   "/fapi/v1/positionSide/dual", "/fapi/v1/multiAssetsMargin",
                   "/fapi/v1/commissionRate", "/fapi/v1/leverageBracket", "/fapi/v1/marginType",
                   "/fapi/v1/leverage", "/fapi/v1/userTrades", "/fapi/v1/allOrders",
                   "/fapi/v1/apiTradingStatus", "/fapi/v1/symbolConfig")
ORDER_PATHS = ("/fapi/v1/order", "/fapi/v1/algoOrder")
PARAMS = web.RequestKey("params", dict)


@dataclass
class Fault:
    """One injected failure. ``after=True`` applies the request first (outcome unknown to the
    client): with ``status`` it answers that status, with ``delay`` it answers too late."""

    path: str = ""
    method: str = ""
    status: int = 0
    code: int = 0
    msg: str = ""
    retry_after: int | None = None
    delay: float = 0.0
    after: bool = False
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (not self.path or path.startswith(self.path)) and (
            not self.method or self.method == method)


@dataclass
class Sock:
    ws: web.WebSocketResponse
    request: web.Request
    kind: str  # market | public | private
    streams: set[str] = field(default_factory=set)
    combined: bool = True
    listen_key: str = ""
    opened: float = field(default_factory=time.monotonic)


class LocalExchange:
    """Start with ``await ex.start()``; point the desk at ``ex.rest_url`` and ``ex.ws_url``."""

    def __init__(
        self,
        api_key: str = "local-test-key",
        api_secret: str = "local-test-secret",
        symbols: dict[str, SymbolInfo] | None = None,
        balance: Decimal = Decimal("10000"),
        prices: dict[str, str] | None = None,
        weight_limit: int = 2400,
        order_limit_10s: int = 300,
        order_limit_1m: int = 1200,
        listen_key_ttl: float = 3600.0,
        ws_heartbeat: float | None = None,
        ws_max_age: float | None = None,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        syms = symbols or DEFAULT_SYMBOLS
        px = {"BTCUSDT": "60000", "ETHUSDT": "3000", "SOLUSDT": "150"}
        px.update(prices or {})
        self.account = Account(syms, balance, {s: Decimal(px[s]) for s in syms})
        self.weight_limit = weight_limit
        self.order_limit_10s = order_limit_10s
        self.order_limit_1m = order_limit_1m
        self.listen_key_ttl = listen_key_ttl
        self.ws_heartbeat = ws_heartbeat
        self.ws_max_age = ws_max_age
        self.clock_skew_ms = 0
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.rejected_ws_connects = 0
        self.market_stalled = False
        self.socks: list[Sock] = []
        self.listen_keys: dict[str, float] = {}  # key -> expiry (monotonic)
        self.keepalives = 0
        self.banned_until = 0.0
        self.violations = 0
        self._weight_window = (0, 0)  # (minute, used)
        self._orders_window: list[float] = []
        self._agg_id = 1_000_000
        self._kline: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0
        # diff-depth: what GET /fapi/v1/depth answers per symbol (tests set it), and the ids
        self.depth_snapshots: dict[str, dict[str, Any]] = {}

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, port: int = 0) -> LocalExchange:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("*", "/fapi/{tail:.*}", self._rest)
        app.router.add_route("*", "/api/v3/{tail:.*}", self._spot)
        app.router.add_get("/market/stream", self._ws_market)
        app.router.add_get("/public/stream", self._ws_market)
        app.router.add_get("/market/ws/{stream}", self._ws_market)
        app.router.add_get("/public/ws/{stream}", self._ws_market)
        app.router.add_get("/private/ws", self._ws_private)
        app.router.add_get("/private/ws/{key}", self._ws_private)
        app.router.add_route("*", "/_control/{what}", self._control)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for sock in list(self.socks):
            with contextlib.suppress(Exception):
                await sock.ws.close()
        for task in list(self._tasks):
            task.cancel()
        if self._runner:
            await self._runner.cleanup()

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fapi"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def server_ms(self) -> int:
        return now_ms() + self.clock_skew_ms

    # -- test controls --------------------------------------------------------------------
    def inject(self, **kwargs: Any) -> Fault:
        fault = Fault(**kwargs)
        self.faults.append(fault)
        return fault

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p == path)

    async def set_price(self, symbol: str, price: str | Decimal, qty: str = "0.010") -> None:
        """Move the market: push bookTicker, aggTrade, markPrice and kline, then fill."""
        price = Decimal(price)
        acct = self.account
        acct.prices[symbol] = price
        bid, ask = acct.bid_ask(symbol)
        ts = self.server_ms()
        lower = symbol.lower()
        self._agg_id += 1
        await self._publish(f"{lower}@bookTicker", {
            "e": "bookTicker", "u": self._agg_id, "s": symbol, "b": fmt(bid), "B": "5.000",
            "a": fmt(ask), "A": "4.000", "T": ts, "E": ts})
        await self._publish(f"{lower}@aggTrade", {
            "e": "aggTrade", "E": ts, "a": self._agg_id, "s": symbol, "p": fmt(price),
            "q": qty, "f": self._agg_id, "l": self._agg_id, "T": ts, "m": False})
        mark = {"e": "markPriceUpdate", "E": ts, "s": symbol, "p": fmt(price),
                "i": fmt(price), "P": fmt(price), "r": "0.00010000",
                "T": (ts // 28_800_000 + 1) * 28_800_000}
        await self._publish(f"{lower}@markPrice@1s", mark)
        await self._publish(f"{lower}@markPrice", mark)
        await self._publish(f"{lower}@kline_1m", self._kline_event(symbol, price, ts, False))
        acct.on_price(symbol, price)
        await self.flush_user_events()

    async def publish_depth(self, symbol: str, first: int, final: int, prev: int,
                            bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        """One USDT-M depthUpdate (U=first, u=final, pu=prev) on ``<symbol>@depth@100ms``."""
        ts = self.server_ms()
        await self._publish(f"{symbol.lower()}@depth@100ms", {
            "e": "depthUpdate", "E": ts, "T": ts, "s": symbol, "U": first, "u": final,
            "pu": prev, "b": [list(b) for b in bids], "a": [list(a) for a in asks]})

    async def close_bar(self, symbol: str) -> None:
        """Close the current 1m kline now (a test need not wait a minute)."""
        price = self.account.prices[symbol]
        ts = self.server_ms()
        await self._publish(f"{symbol.lower()}@kline_1m",
                            self._kline_event(symbol, price, ts, True))
        self._kline.pop(symbol, None)

    def _kline_event(self, symbol: str, price: Decimal, ts: int, closed: bool) -> dict[str, Any]:
        bar = self._kline.get(symbol)
        if bar is None:
            start = ts // 60_000 * 60_000
            bar = self._kline[symbol] = {"t": start, "T": start + 59_999, "o": price, "h": price,
                                         "l": price, "c": price, "v": Decimal(0)}
        bar["h"], bar["l"], bar["c"] = max(bar["h"], price), min(bar["l"], price), price
        bar["v"] += Decimal("0.010")
        return {"e": "kline", "E": ts, "s": symbol, "k": {
            "t": bar["t"], "T": bar["T"], "s": symbol, "i": "1m", "f": 1, "L": 2,
            "o": fmt(bar["o"]), "c": fmt(bar["c"]), "h": fmt(bar["h"]), "l": fmt(bar["l"]),
            "v": fmt(bar["v"]), "n": 2, "x": closed, "q": "0", "V": "0", "Q": "0", "B": "0"}}

    async def drop_sockets(self, kind: str | None = None) -> None:
        """Cut connections the hard way (no close frame), like a network drop."""
        for sock in list(self.socks):
            if kind is None or sock.kind == kind:
                transport = sock.request.transport
                if transport is not None:
                    transport.abort()
                self.socks.remove(sock)

    async def expire_listen_key(self) -> None:
        for key in list(self.listen_keys):
            del self.listen_keys[key]
            for sock in [s for s in self.socks if s.listen_key == key]:
                with contextlib.suppress(Exception):
                    await sock.ws.send_str(json.dumps(
                        {"e": "listenKeyExpired", "E": self.server_ms(), "listenKey": key}))
                    await sock.ws.close()
                if sock in self.socks:
                    self.socks.remove(sock)

    async def flush_user_events(self) -> None:
        events, self.account.events = self.account.events, []
        for event in events:
            for sock in [s for s in self.socks if s.kind == "private"]:
                with contextlib.suppress(Exception):
                    await sock.ws.send_str(json.dumps(event))

    # -- plumbing -------------------------------------------------------------------------
    async def _publish(self, stream: str, data: dict[str, Any]) -> None:
        if self.market_stalled:
            return
        for sock in list(self.socks):
            if sock.kind == "private" or stream not in sock.streams:
                continue
            payload = {"stream": stream, "data": data} if sock.combined else data
            try:
                await sock.ws.send_str(json.dumps(payload))
            except Exception:
                if sock in self.socks:
                    self.socks.remove(sock)

    def _use_weight(self, weight: int) -> int:
        minute = int(time.time() // 60)
        cur_min, used = self._weight_window
        if cur_min != minute:
            used = 0
        used += weight
        self._weight_window = (minute, used)
        return used

    def _retry_after(self) -> int:
        return max(1, 60 - int(time.time() % 60))

    @web.middleware
    async def _middleware(self, request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                          ) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_control") or not (path.startswith("/fapi")
                                                or path.startswith("/api")):
            return await handler(request)
        body = await request.text()
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params.update(dict(parse_qsl(body, keep_blank_values=True)))
        self.requests.append((request.method, path, params))
        weight = WEIGHTS.get(path, 1)
        if path == "/fapi/v1/openOrders" and "symbol" not in params:
            weight = 40
        is_order = path in ORDER_PATHS and request.method == "POST"
        headers: dict[str, str] = {}
        if time.monotonic() < self.banned_until:
            wait = int(self.banned_until - time.monotonic()) + 1
            return self._error(418, -1003, f"Way too many requests; IP(127.0.0.1) banned until "
                               f"{self.server_ms() + wait * 1000}. Please use the websocket for "
                               "live updates to avoid bans.", {"Retry-After": str(wait)})
        fault = next((f for f in self.faults if f.matches(request.method, path)), None)
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            if not fault.after:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status or fault.code:
                    return self._fault_response(fault)
        used = self._use_weight(weight)
        headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        if is_order:
            now = time.monotonic()
            self._orders_window = [t for t in self._orders_window if now - t < 60] + [now]
            headers["X-MBX-ORDER-COUNT-10S"] = str(
                sum(1 for t in self._orders_window if now - t < 10))
            headers["X-MBX-ORDER-COUNT-1M"] = str(len(self._orders_window))
        if used > self.weight_limit:
            self.violations += 1
            if self.violations > 3:
                self.banned_until = time.monotonic() + 120
                return self._error(418, -1003, "Way too many requests; IP(127.0.0.1) banned.",
                                   {"Retry-After": "120", **headers})
            return self._error(429, -1003, f"Too many requests; current limit of IP(127.0.0.1) "
                               f"is {self.weight_limit} requests per minute. Please use the "
                               "websocket for live updates to avoid polling the API.",
                               {"Retry-After": str(self._retry_after()), **headers})
        try:
            self._authenticate(request, path, params, body)
        except ApiError as exc:
            return self._error(exc.status, exc.code, exc.msg, headers)
        request[PARAMS] = params
        try:
            response = await handler(request)
        except ApiError as exc:
            response = self._error(exc.status, exc.code, exc.msg, headers)
        await self.flush_user_events()
        if fault is not None and fault.after:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status or fault.code:
                return self._fault_response(fault)
        response.headers.update(headers)
        return response

    def _fault_response(self, fault: Fault) -> web.Response:
        extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if fault.code:
            return self._error(fault.status or 400, fault.code, fault.msg or {
                -1021: "Timestamp for this request is outside of the recvWindow.",
                -1003: "Too many requests.", -1001: "Internal error; unable to process your "
                "request. Please try again."}.get(fault.code, "error"), extra)
        if fault.status >= 500:
            return web.Response(status=fault.status, text="<html>Service Unavailable</html>",
                                content_type="text/html", headers=extra)
        return self._error(fault.status, -1003, "Too many requests.", extra)

    @staticmethod
    def _error(status: int, code: int, msg: str,
               headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status, headers=headers)

    def _authenticate(self, request: web.Request, path: str, params: dict[str, str],
                      body: str) -> None:
        needs_key = path.startswith(SIGNED_PREFIXES) or path == "/fapi/v1/listenKey"
        if not needs_key:
            return
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise ApiError(-2014, "API-key format invalid.", 401)
        if key != self.api_key:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if path == "/fapi/v1/listenKey":
            return
        if "signature" not in params:
            raise ApiError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, "
                           "or malformed.")
        total = _strip_signature(request.query_string) + _strip_signature(body)
        expected = hmac.new(self.api_secret.encode(), total.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params["signature"]):
            raise ApiError(-1022, "Signature for this request is not valid.")
        ts = int(params.get("timestamp", "0"))
        window = int(params.get("recvWindow", "5000"))
        server = self.server_ms()
        if ts > server + 1000 or server - ts > window:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

    # -- REST -----------------------------------------------------------------------------
    async def _spot(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"]
        if tail == "ping":
            return web.json_response({})
        if tail == "time":
            return web.json_response({"serverTime": self.server_ms()})
        return self._error(404, -1000, "not served by the local exchange")

    async def _rest(self, request: web.Request) -> web.Response:
        path, method = request.path, request.method
        p: dict[str, str] = request.get(PARAMS, {})
        acct = self.account
        ok = web.json_response
        route = (method, path)
        if route == ("GET", "/fapi/v1/ping"):
            return ok({})
        if route == ("GET", "/fapi/v1/time"):
            return ok({"serverTime": self.server_ms()})
        if route == ("GET", "/fapi/v1/exchangeInfo"):
            return ok({
                "timezone": "UTC", "serverTime": self.server_ms(), "futuresType": "U_MARGINED",
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                     "limit": self.weight_limit},
                    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
                     "limit": self.order_limit_1m},
                    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                     "limit": self.order_limit_10s}],
                "exchangeFilters": [], "assets": [{"asset": "USDT", "marginAvailable": True}],
                "symbols": [s.exchange_info() for s in acct.symbols.values()]})
        if route == ("GET", "/fapi/v1/premiumIndex"):
            sym = p.get("symbol", "BTCUSDT")
            return ok({"symbol": sym, "markPrice": fmt(acct.prices[sym]),
                       "indexPrice": fmt(acct.prices[sym]), "lastFundingRate": "0.00010000",
                       "nextFundingTime": (self.server_ms() // 28_800_000 + 1) * 28_800_000,
                       "time": self.server_ms()})
        if route == ("GET", "/fapi/v1/ticker/bookTicker"):
            sym = p.get("symbol", "BTCUSDT")
            bid, ask = acct.bid_ask(sym)
            return ok({"symbol": sym, "bidPrice": fmt(bid), "bidQty": "5", "askPrice": fmt(ask),
                       "askQty": "4", "time": self.server_ms()})
        if route == ("GET", "/fapi/v1/depth"):
            snap = self.depth_snapshots.get(p.get("symbol", ""))
            if snap is None:
                return self._error(400, -1121, "Invalid symbol.")
            return ok(snap)
        if path == "/fapi/v1/listenKey":
            return ok(self._listen_key(method, p))
        if route in (("GET", "/fapi/v2/account"), ("GET", "/fapi/v3/account")):
            return ok(acct.account())
        if route == ("GET", "/fapi/v3/balance"):
            return ok(acct.balance())
        if route in (("GET", "/fapi/v3/positionRisk"), ("GET", "/fapi/v2/positionRisk")):
            return ok(acct.position_risk(p.get("symbol")))
        if route == ("GET", "/fapi/v1/positionSide/dual"):
            return ok({"dualSidePosition": acct.dual_side})
        if route == ("GET", "/fapi/v1/multiAssetsMargin"):
            return ok({"multiAssetsMargin": acct.multi_assets})
        if route == ("GET", "/fapi/v1/apiTradingStatus"):
            return ok({"indicators": {}, "updateTime": 0})
        if route == ("GET", "/fapi/v1/commissionRate"):
            return ok({"symbol": p.get("symbol"), "makerCommissionRate": "0.000200",
                       "takerCommissionRate": "0.000500"})
        if route == ("GET", "/fapi/v1/leverageBracket"):
            return ok([{"symbol": s, "notionalCoef": 1.0, "brackets": [
                {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000,
                 "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0}]}
                for s in acct.symbols if not p.get("symbol") or s == p["symbol"]])
        if route == ("GET", "/fapi/v1/symbolConfig"):
            return ok([{"symbol": pos.symbol, "marginType": pos.margin_type,
                        "isAutoAddMargin": "false", "leverage": pos.leverage,
                        "maxNotionalValue": "1000000"}
                       for pos in acct.positions.values()
                       if not p.get("symbol") or pos.symbol == p["symbol"]])
        if route == ("POST", "/fapi/v1/marginType"):
            return ok(acct.set_margin_type(p.get("symbol", ""), p.get("marginType", "")))
        if route == ("POST", "/fapi/v1/leverage"):
            return ok(acct.set_leverage(p.get("symbol", ""), int(p.get("leverage", "0"))))
        if route == ("POST", "/fapi/v1/order"):
            return ok(acct.new_order(p).rest())
        if route == ("GET", "/fapi/v1/order"):
            return ok(acct.find_order(p.get("symbol", ""), p.get("orderId"),
                                      p.get("origClientOrderId")).rest())
        if route == ("DELETE", "/fapi/v1/order"):
            return ok(acct.cancel_order(p.get("symbol", ""), p.get("orderId"),
                                        p.get("origClientOrderId")).rest())
        if route == ("GET", "/fapi/v1/openOrders"):
            return ok([o.rest() for o in acct.open_orders(p.get("symbol"))])
        if route == ("DELETE", "/fapi/v1/allOpenOrders"):
            acct.cancel_all(p.get("symbol", ""))
            return ok({"code": 200, "msg": "The operation of cancel all open order is done."})
        if route == ("POST", "/fapi/v1/algoOrder"):
            return ok(acct.new_algo(p).rest())
        if route == ("GET", "/fapi/v1/algoOrder"):
            return ok(acct.find_algo(p.get("algoId"), p.get("clientAlgoId")).rest())
        if route == ("DELETE", "/fapi/v1/algoOrder"):
            algo = acct.cancel_algo(p.get("algoId"), p.get("clientAlgoId"))
            return ok({"algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id,
                       "code": "200", "msg": "success"})
        if route == ("GET", "/fapi/v1/openAlgoOrders"):
            return ok([a.rest() for a in acct.open_algos(p.get("symbol"))])
        if route == ("GET", "/fapi/v1/allAlgoOrders"):
            return ok([a.rest() for a in acct.algos.values()
                       if not p.get("symbol") or a.symbol == p["symbol"]])
        if route == ("DELETE", "/fapi/v1/algoOpenOrders"):
            acct.cancel_all_algos(p.get("symbol", ""))
            return ok({"code": 200, "msg": "The operation of cancel all open order is done."})
        if route == ("GET", "/fapi/v1/userTrades"):
            return ok([t for t in acct.trades if t["symbol"] == p.get("symbol")])
        return self._error(404, -1000, f"{method} {path} is not served by the local exchange")

    def _listen_key(self, method: str, p: dict[str, str]) -> dict[str, Any]:
        now = time.monotonic()
        self.listen_keys = {k: exp for k, exp in self.listen_keys.items() if exp > now}
        if method == "POST":
            key = next(iter(self.listen_keys), None) or secrets.token_urlsafe(48)
            self.listen_keys[key] = now + self.listen_key_ttl
            return {"listenKey": key}
        key = p.get("listenKey", "")
        if key not in self.listen_keys:
            raise ApiError(-1125, "This listenKey does not exist.")
        if method == "PUT":
            self.keepalives += 1
            self.listen_keys[key] = now + self.listen_key_ttl
            return {"listenKey": key}
        del self.listen_keys[key]
        return {}

    # -- websockets -----------------------------------------------------------------------
    async def _open_ws(self, request: web.Request) -> web.WebSocketResponse | None:
        if self.rejected_ws_connects > 0:
            self.rejected_ws_connects -= 1
            return None
        ws = web.WebSocketResponse(heartbeat=self.ws_heartbeat, autoping=True)
        await ws.prepare(request)
        return ws

    async def _serve(self, sock: Sock) -> web.WebSocketResponse:
        self.socks.append(sock)
        age_task = None
        if self.ws_max_age:
            age_task = asyncio.create_task(self._close_after(sock, self.ws_max_age))
            self._tasks.add(age_task)
            age_task.add_done_callback(self._tasks.discard)
        try:
            async for msg in sock.ws:
                if msg.type == WSMsgType.TEXT:
                    await self._ws_command(sock, msg.data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            if sock in self.socks:
                self.socks.remove(sock)
            if age_task:
                age_task.cancel()
        return sock.ws

    async def _close_after(self, sock: Sock, seconds: float) -> None:
        await asyncio.sleep(seconds)
        with contextlib.suppress(Exception):
            await sock.ws.close(code=1000, message=b"24h connection limit")

    async def _ws_command(self, sock: Sock, data: str) -> None:
        with contextlib.suppress(ValueError):
            cmd = json.loads(data)
            if cmd.get("method") == "SUBSCRIBE":
                sock.streams.update(cmd.get("params", []))
                await sock.ws.send_str(json.dumps({"result": None, "id": cmd.get("id")}))

    async def _ws_market(self, request: web.Request) -> web.StreamResponse:
        kind = "public" if request.path.startswith("/public") else "market"
        if "stream" in request.match_info:
            streams, combined = {request.match_info["stream"]}, False
        else:
            streams, combined = set(request.query.get("streams", "").split("/")) - {""}, True
        ws = await self._open_ws(request)
        if ws is None:
            return web.Response(status=503, text="try later")
        return await self._serve(Sock(ws, request, kind, streams, combined))

    async def _ws_private(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("listenKey") or request.match_info.get("key", "")
        if key not in self.listen_keys or self.listen_keys[key] < time.monotonic():
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."},
                                     status=400)
        ws = await self._open_ws(request)
        if ws is None:
            return web.Response(status=503, text="try later")
        return await self._serve(Sock(ws, request, "private", listen_key=key))

    # -- control (for a desk in another process) -------------------------------------------
    async def _control(self, request: web.Request) -> web.Response:
        what = request.match_info["what"]
        if what == "price":
            body = await request.json()
            await self.set_price(body["symbol"], body["price"])
            return web.json_response({"ok": True})
        if what == "state":
            acct = self.account
            return web.json_response({
                "positions": acct.position_risk(),
                "orders": [o.rest() for o in acct.open_orders()],
                "algos": [a.rest() for a in acct.open_algos()],
                "order_posts": self.count("POST", "/fapi/v1/order"),
                "algo_posts": self.count("POST", "/fapi/v1/algoOrder"),
                "wallet": fmt(acct.wallet)})
        return web.json_response({"error": "unknown"}, status=404)


def _strip_signature(query: str) -> str:
    parts = [kv for kv in query.split("&") if kv and not kv.startswith("signature=")]
    return "&".join(parts)
