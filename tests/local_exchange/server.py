"""A Binance USDT-M look-alike on 127.0.0.1: REST under ``/fapi``, streams under ``/market``,
``/public`` and ``/private`` (the 2026 split), with faults a test can switch on.

The desk's real ``BinanceVenue`` and python-binance client talk to it through the URL
overrides (``rest_url`` / ``ws_url``). It checks API keys, HMAC signatures and timestamps,
counts request weight and order rate like Binance and answers with Binance's headers and error
bodies (gateway.py); routes are in rest.py, the book in state.py / algo.py / account.py, the
real-exchange habits a test can switch on in behaviour.py, and every request is kept in
``requests`` (request_log.py). Nothing here reaches beyond the loopback interface.

A desk in another process drives nothing here; a test moves the market with ``set_price``
(also while no desk is connected: a stop then fills unseen, as on Binance) and the same
server keeps its orders across a desk's restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.local_exchange.behaviour import Behaviour
from tests.local_exchange.depth import DepthBook
from tests.local_exchange.gateway import PARAMS, Fault, Gateway
from tests.local_exchange.model import DEFAULT_SYMBOLS, ApiError, SymbolInfo, fmt, now_ms
from tests.local_exchange.request_log import RequestLog
from tests.local_exchange.rest import answer
from tests.local_exchange.sockets import Sockets
from tests.local_exchange.state import Account

__all__ = ["Behaviour", "Fault", "LocalExchange"]
log = logging.getLogger(__name__)


class LocalExchange(Gateway, Sockets):
    """Start with ``await ex.start()``; point the desk at ``ex.rest_url`` and ``ex.ws_url``."""

    def __init__(
        self,
        api_key: str = "local-test-key",
        api_secret: str = "local-test-secret",
        symbols: dict[str, SymbolInfo] | None = None,
        balance: Decimal | str = Decimal("10000"),
        prices: dict[str, str] | None = None,
        weight_limit: int = 2400,
        order_limit_10s: int = 300,
        order_limit_1m: int = 1200,
        listen_key_ttl: float = 3600.0,
        ws_heartbeat: float | None = None,
        ws_max_age: float | None = None,
        behaviour: Behaviour | None = None,
        maker_rate: str = "0.0002",
        taker_rate: str = "0.0005",
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        if behaviour is None and os.environ.get("LOCAL_EXCHANGE_BEHAVIOUR") == "binance":
            behaviour = Behaviour.binance()  # run any suite against the honest exchange
        syms = symbols or DEFAULT_SYMBOLS
        px = {"BTCUSDT": "60000", "ETHUSDT": "3000", "SOLUSDT": "150"}
        px.update(prices or {})
        self.account = Account(syms, Decimal(balance), {s: Decimal(px[s]) for s in syms},
                               behaviour, maker_rate=Decimal(maker_rate),
                               taker_rate=Decimal(taker_rate))
        self.depth = {s: DepthBook(s, info.tick) for s, info in syms.items()}
        #: A test that drives depth itself sets a snapshot here: GET /fapi/v1/depth answers
        #: it and the synthetic diffs stop for that symbol (``publish_depth`` sends its own).
        self.depth_snapshots: dict[str, dict[str, Any]] = {}
        for s, book in self.depth.items():
            book.move(Decimal(px[s]), now_ms())
        self.initial_wallet = Decimal(balance)
        self.transfers = Decimal(0)
        self.weight_limit = weight_limit
        self.order_limit_10s = order_limit_10s
        self.order_limit_1m = order_limit_1m
        self.listen_key_ttl = listen_key_ttl
        self.ws_heartbeat = ws_heartbeat
        self.ws_max_age = ws_max_age
        self.clock_skew_ms = 0
        self.faults: list[Fault] = []
        self.requests = RequestLog()
        self.order_hooks = []
        self.rejected_ws_connects = 0
        self.market_stalled = False
        self.socks = []
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
        self._flush_lock = asyncio.Lock()
        self.port = 0

    @property
    def behaviour(self) -> Behaviour:
        return self.account.behaviour

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
        ticker = asyncio.create_task(self._tick())
        self._tasks.add(ticker)
        ticker.add_done_callback(self._tasks.discard)
        return self

    async def stop(self) -> None:
        for sock in list(self.socks):
            with contextlib.suppress(Exception):
                await sock.ws.close()
        for task in list(self._tasks):
            task.cancel()
        if self._runner:
            await self._runner.cleanup()

    async def _tick(self) -> None:
        """Releases held events when due and keeps the protection stopwatch running."""
        while True:
            await asyncio.sleep(0.02)
            try:
                await self.flush_user_events()
            except Exception:  # keep ticking; the failure is in the test log
                log.exception("local exchange: flushing user events failed")

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
        return self.requests.count_of(method, path)

    async def set_price(self, symbol: str, price: str | Decimal, qty: str = "0.010",
                        mark: str | Decimal | None = None) -> None:
        """Move the market: push bookTicker, aggTrade, markPrice and kline, then fill."""
        price = Decimal(price)
        mark_price = price if mark is None else Decimal(mark)
        await self._publish_market(symbol, price, mark_price, qty)
        self.account.on_price(symbol, price, mark_price)
        await self.flush_user_events()

    async def _publish_market(self, symbol: str, price: Decimal, mark_price: Decimal,
                              qty: str = "0.010") -> None:
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
        mark_event = {"e": "markPriceUpdate", "E": ts, "s": symbol, "p": fmt(mark_price),
                      "i": fmt(mark_price), "P": fmt(mark_price), "r": "0.00010000",
                      "T": (ts // 28_800_000 + 1) * 28_800_000}
        await self._publish(f"{lower}@markPrice@1s", mark_event)
        await self._publish(f"{lower}@markPrice", mark_event)
        await self._publish(f"{lower}@kline_1m", self._kline_event(symbol, price, ts, False))
        if symbol in self.depth_snapshots:
            return
        diff = self.depth[symbol].move(bid, ts)
        for stream in (f"{lower}@depth", f"{lower}@depth@100ms", f"{lower}@depth@500ms"):
            await self._publish(stream, diff)

    async def publish_depth(self, symbol: str, first: int, final: int, prev: int,
                            bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        """One scripted depthUpdate (U=first, u=final, pu=prev) on ``<symbol>@depth@100ms``."""
        ts = self.server_ms()
        await self._publish(f"{symbol.lower()}@depth@100ms", {
            "e": "depthUpdate", "E": ts, "T": ts, "s": symbol, "U": first, "u": final,
            "pu": prev, "b": [list(b) for b in bids], "a": [list(a) for a in asks]})

    async def funding(self, symbol: str, rate: str | Decimal = "0.0001") -> Decimal:
        """Settle funding now (positive rate: longs pay); ACCOUNT_UPDATE m=FUNDING_FEE."""
        amount = self.account.funding(symbol, Decimal(rate))
        await self.flush_user_events()
        return amount

    async def deposit(self, amount: str | Decimal) -> None:
        """A transfer into the futures wallet (ACCOUNT_UPDATE m=DEPOSIT); the wallet change
        the desk's P&L must explain excludes it (see ``wallet_change``)."""
        self.account.deposit(Decimal(amount))
        self.transfers += Decimal(amount)
        await self.flush_user_events()

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

    async def flush_user_events(self) -> None:
        """Push every due user-data event, in order; held ones (hidden orders) wait."""
        async with self._flush_lock:
            acct = self.account
            now = time.monotonic()
            due = [e for at, e in acct.pending if at <= now]
            acct.pending = [(at, e) for at, e in acct.pending if at > now]
            acct.check_protection()
            await self._push_private(due)
            moved, acct.moved = acct.moved, {}
        for symbol, price in moved.items():  # price_after_fill: the market jumped
            await self.set_price(symbol, price)

    def wallet_change(self) -> Decimal:
        """Wallet now minus at start, transfers aside: realised P&L − commissions + funding."""
        return self.account.wallet - self.initial_wallet - self.transfers

    def snapshot(self) -> dict[str, Any]:
        """What a test in another process can ask for (GET /_control/state)."""
        acct = self.account
        return {
            "positions": acct.position_risk(),
            "orders": [o.rest() for o in acct.open_orders()],
            "algos": [a.rest() for a in acct.open_algos()],
            "order_posts": self.count("POST", "/fapi/v1/order"),
            "algo_posts": self.count("POST", "/fapi/v1/algoOrder"),
            "wallet": fmt(acct.wallet), "wallet_change": fmt(self.wallet_change()),
            "private_connected": self.private_connected(),
            "longest_unprotected_s": acct.protection.longest(),
            "trades": acct.trades,
        }

    def exchange_info(self) -> dict[str, Any]:
        return {
            "timezone": "UTC", "serverTime": self.server_ms(), "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": self.weight_limit},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
                 "limit": self.order_limit_1m},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                 "limit": self.order_limit_10s}],
            "exchangeFilters": [], "assets": [{"asset": "USDT", "marginAvailable": True}],
            "symbols": [s.exchange_info() for s in self.account.symbols.values()]}

    # -- HTTP handlers --------------------------------------------------------------------
    async def _spot(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"]
        if tail == "ping":
            return web.json_response({})
        if tail == "time":
            return web.json_response({"serverTime": self.server_ms()})
        return self._error(404, -1000, "not served by the local exchange")

    async def _rest(self, request: web.Request) -> web.Response:
        try:
            body = answer(self, request.method, request.path, request.get(PARAMS, {}))
        except ApiError as exc:
            return self._error(exc.status, exc.code, exc.msg)
        return web.json_response(body)

    async def _control(self, request: web.Request) -> web.Response:
        """For a test whose exchange runs in another process (``python -m
        tests.local_exchange``)."""
        what = request.match_info["what"]
        if what == "price":
            body = await request.json()
            await self.set_price(body["symbol"], body["price"], mark=body.get("mark"))
            return web.json_response({"ok": True})
        if what == "funding":
            body = await request.json()
            amount = await self.funding(body["symbol"], body.get("rate", "0.0001"))
            return web.json_response({"amount": fmt(amount)})
        if what == "state":
            return web.json_response(self.snapshot())
        if what == "requests":
            return web.json_response([r.json() for r in self.requests])
        return web.json_response({"error": "unknown"}, status=404)
