"""What stands between a request and the account, as on Binance: the request log, injected
faults, request weight and order-rate headers, 429/418 bans, API key, HMAC signature and
recvWindow checks, and Binance's error bodies.

Faults (``LocalExchange.inject``) are how a test breaks the network or the exchange on
purpose; ``after=True`` applies the request first so its outcome is unknown to the client
(a 503 or a timeout after the order was accepted).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web

from tests.local_exchange.model import ApiError
from tests.local_exchange.request_log import Request, RequestLog

# Request weights as Binance documents them (USDT-M REST), for the endpoints the desk uses.
WEIGHTS = {
    "/fapi/v1/exchangeInfo": 1, "/fapi/v1/time": 1, "/fapi/v1/ping": 1,
    "/fapi/v2/account": 5, "/fapi/v3/account": 5, "/fapi/v3/balance": 5,
    "/fapi/v3/positionRisk": 5, "/fapi/v2/positionRisk": 5, "/fapi/v1/positionSide/dual": 30,
    "/fapi/v1/multiAssetsMargin": 30, "/fapi/v1/commissionRate": 20,
    "/fapi/v1/leverageBracket": 1, "/fapi/v1/userTrades": 5, "/fapi/v1/allOrders": 5,
    "/fapi/v1/openOrders": 1, "/fapi/v1/apiTradingStatus": 1, "/fapi/v1/symbolConfig": 5,
    "/fapi/v1/income": 30, "/fapi/v1/accountConfig": 5,
}
SIGNED_PREFIXES = ("/fapi/v1/order", "/fapi/v1/openOrders", "/fapi/v1/allOpenOrders",
                   "/fapi/v1/algoOrder", "/fapi/v1/openAlgoOrders", "/fapi/v1/algoOpenOrders",
                   "/fapi/v1/allAlgoOrders", "/fapi/v2/account", "/fapi/v3/account",
                   "/fapi/v2/balance", "/fapi/v3/balance", "/fapi/v2/positionRisk",
                   "/fapi/v3/positionRisk", "/fapi/v1/positionSide/dual",
                   "/fapi/v1/multiAssetsMargin", "/fapi/v1/commissionRate",
                   "/fapi/v1/leverageBracket", "/fapi/v1/marginType", "/fapi/v1/leverage",
                   "/fapi/v1/userTrades", "/fapi/v1/allOrders", "/fapi/v1/income",
                   "/fapi/v1/apiTradingStatus", "/fapi/v1/symbolConfig",
                   "/fapi/v1/accountConfig")
ORDER_PATHS = ("/fapi/v1/order", "/fapi/v1/algoOrder")
PARAMS = web.RequestKey("params", dict)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    """One injected failure. ``after=True`` applies the request first (outcome unknown to the
    client): with ``status`` it answers that status, with ``delay`` it answers too late.
    ``when`` narrows it to requests whose params match (e.g. only reduce-only orders)."""

    path: str = ""
    method: str = ""
    status: int = 0
    code: int = 0
    msg: str = ""
    retry_after: int | None = None
    delay: float = 0.0
    after: bool = False
    times: int = 1
    when: Callable[[dict[str, str]], bool] | None = None

    def matches(self, method: str, path: str, params: dict[str, str] | None = None) -> bool:
        return (not self.path or path.startswith(self.path)) and (
            not self.method or self.method == method) and (
            self.when is None or self.when(params or {}))


class Gateway:
    """Mixed into ``LocalExchange``: the aiohttp middleware and its checks."""

    api_key: str
    api_secret: str
    faults: list[Fault]
    requests: RequestLog
    #: Called with each order POST the exchange accepted, before its user-stream events go
    #: out and before the client has its answer (a test kills a desk right there).
    order_hooks: list[Callable[[Request], None]]
    weight_limit: int
    order_limit_10s: int
    order_limit_1m: int
    banned_until: float
    violations: int
    _weight_window: tuple[int, int]
    _orders_window: list[float]

    def server_ms(self) -> int:
        raise NotImplementedError

    async def flush_user_events(self) -> None:
        raise NotImplementedError

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
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_control") or not (path.startswith("/fapi")
                                                or path.startswith("/api")):
            return await handler(request)
        body = await request.text()
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params.update(dict(parse_qsl(body, keep_blank_values=True)))
        logged = self.requests.add(request.method, path, params)
        response = await self._answer(request, handler, path, params, body, logged)
        logged.status = response.status
        if response.status != 200 and isinstance(response, web.Response) and response.text:
            try:
                logged.code = int(json.loads(response.text).get("code", 0))
            except (ValueError, AttributeError):
                logged.code = 0
        return response

    async def _answer(self, request: web.Request, handler: Handler, path: str,
                      params: dict[str, str], body: str,
                      logged: Request) -> web.StreamResponse:
        weight = WEIGHTS.get(path, 1)
        if path == "/fapi/v1/openOrders" and "symbol" not in params:
            weight = 40
        if path == "/fapi/v1/depth":  # 5–50: 2, 100: 5, 500: 10, 1000: 20
            limit = int(params.get("limit", "500") or 500)
            weight = 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20
        is_order = path in ORDER_PATHS and request.method == "POST"
        headers: dict[str, str] = {}
        if time.monotonic() < self.banned_until:
            wait = int(self.banned_until - time.monotonic()) + 1
            return self._error(418, -1003, f"Way too many requests; IP(127.0.0.1) banned until "
                               f"{self.server_ms() + wait * 1000}. Please use the websocket for "
                               "live updates to avoid bans.", {"Retry-After": str(wait)})
        fault = next((f for f in self.faults if f.matches(request.method, path, params)), None)
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
            in_10s = sum(1 for t in self._orders_window if now - t < 10)
            if in_10s > self.order_limit_10s or len(self._orders_window) > self.order_limit_1m:
                interval = ("TEN_SECONDS", self.order_limit_10s) if (
                    in_10s > self.order_limit_10s) else ("MINUTE", self.order_limit_1m)
                return self._error(429, -1015, f"Too many new orders; current limit is "
                                   f"{interval[1]} orders per {interval[0]}.",
                                   {"Retry-After": "10", **headers})
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
        if is_order and response.status == 200:
            for hook in list(self.order_hooks):
                hook(logged)
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
                "request. Please try again.", -2021: "Order would immediately trigger.",
                -2022: "ReduceOnly Order is rejected.", -2019: "Margin is insufficient.",
                -1008: "Server is currently overloaded with other requests. Please try again "
                "in a few minutes."}.get(fault.code, "error"), extra)
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


def _strip_signature(query: str) -> str:
    parts = [kv for kv in query.split("&") if kv and not kv.startswith("signature=")]
    return "&".join(parts)

