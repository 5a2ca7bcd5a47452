"""Every REST call the live desk makes goes through ``RestGate``: rate limits, clock, errors.

- **Weight and order rate**: Binance reports what an IP has used in response headers
  (``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S``/``-1M``). ``DeskClient`` records them on
  every response; the gate pauses *before* a call that would cross 90 % of a limit, until the
  window rolls over. A 429 backs off for ``Retry-After``; a 418 (IP ban) stops every call until
  the ban is over: the gate refuses locally rather than sending into a ban.
  (https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info, "Limits")
- **Clock**: signed requests carry a timestamp checked against ``recvWindow``. python-binance
  reads the server offset once; on -1021 the gate re-reads ``/fapi/v1/time`` and retries once.
- **Errors**: Binance's code and message become a ``VenueError`` with a sentence a trader
  understands; 5xx, timeouts and dropped connections are marked ``unknown_outcome``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from binance import AsyncClient
from binance.exceptions import BinanceAPIException, BinanceRequestException
from tapedesk.engine.binance.endpoints import Endpoints, apply_to_client
from tapedesk.engine.binance.errors import UNKNOWN_OUTCOME, VenueError, explain

log = logging.getLogger(__name__)

SOFT_LIMIT = 0.9  # pause before a call would use more than this share of a window


@dataclass
class RateLimits:
    """What Binance says the desk has used, and until when it must wait."""

    weight_limit: int = 2400
    orders_10s_limit: int = 300
    orders_1m_limit: int = 1200
    weight_used: int = 0
    orders_10s: int = 0
    orders_1m: int = 0
    backoff_until: float = 0.0  # monotonic
    banned_until: float = 0.0  # monotonic
    last_status: int = 0
    pauses: int = 0  # how often the gate slowed down on its own (shown in tests and logs)

    def observe(self, status: int, headers: Any, now: float) -> None:
        self.last_status = status
        weight = headers.get("X-MBX-USED-WEIGHT-1M") or headers.get("x-mbx-used-weight-1m")
        if weight is not None:
            self.weight_used = int(weight)
        o10 = headers.get("X-MBX-ORDER-COUNT-10S")
        if o10 is not None:
            self.orders_10s = int(o10)
        o1m = headers.get("X-MBX-ORDER-COUNT-1M")
        if o1m is not None:
            self.orders_1m = int(o1m)
        if status in (418, 429):
            retry = headers.get("Retry-After")
            wait = float(retry) if retry else (120.0 if status == 418 else 60.0)
            if status == 418:
                self.banned_until = max(self.banned_until, now + wait)
            else:
                self.backoff_until = max(self.backoff_until, now + wait)

    def load_from_exchange_info(self, info: dict[str, Any]) -> None:
        for rule in info.get("rateLimits", []):
            kind, interval, num = rule.get("rateLimitType"), rule.get("interval"), rule.get(
                "intervalNum", 1)
            if kind == "REQUEST_WEIGHT" and interval == "MINUTE":
                self.weight_limit = int(rule["limit"])
            elif kind == "ORDERS" and interval == "SECOND" and num == 10:
                self.orders_10s_limit = int(rule["limit"])
            elif kind == "ORDERS" and interval == "MINUTE":
                self.orders_1m_limit = int(rule["limit"])


class DeskClient(AsyncClient):
    """python-binance's AsyncClient that records rate-limit headers of every response."""

    def __init__(self, *args: Any, limits: RateLimits | None = None,
                 monotonic: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or RateLimits()
        self._monotonic = monotonic

    async def _handle_response(self, response: aiohttp.ClientResponse) -> Any:
        self.limits.observe(response.status, response.headers, self._monotonic())
        return await super()._handle_response(response)

    async def futures_symbol_config(self, **params: Any) -> Any:
        """``GET /fapi/v1/symbolConfig``: margin type and leverage per symbol (read-only;
        python-binance 1.0.37 has no method for it)."""
        return await self._request_futures_api("get", "symbolConfig", True, data=params)

    def __repr__(self) -> str:  # the base repr is harmless, but keep keys out of any log
        return f"DeskClient({self.FUTURES_URL})"


def make_client(endpoints: Endpoints, api_key: str | None = None, api_secret: str | None = None,
                private_key: str | None = None, recv_window_ms: int = 5000,
                timeout_s: float = 10.0) -> DeskClient:
    """Build a client without I/O (``AsyncClient.create`` pings spot hosts first, which a
    local exchange or a firewalled server cannot answer) and point it at ``endpoints``."""
    client = DeskClient(api_key=api_key, api_secret=api_secret, private_key=private_key,
                        testnet=endpoints.name == "testnet", demo=endpoints.name == "demo")
    apply_to_client(client, endpoints)
    client.REQUEST_RECVWINDOW = recv_window_ms
    client.REQUEST_TIMEOUT = timeout_s
    return client


Sleep = Callable[[float], Awaitable[None]]


class RestGate:
    """Calls python-binance methods by name, within Binance's limits, with errors explained."""

    def __init__(self, client: DeskClient, sleep: Sleep = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self.client = client
        self.limits = client.limits
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall_ms = wall_ms
        self.resyncs = 0

    async def sync_time(self) -> int:
        """Read server time and set the offset python-binance adds to every timestamp."""
        before = self._wall_ms()
        res = await self.client.futures_time()
        after = self._wall_ms()
        offset = int(res["serverTime"]) - (before + after) // 2
        self.client.timestamp_offset = offset
        self.resyncs += 1
        return offset

    def _server_ms(self) -> int:
        return self._wall_ms() + int(self.client.timestamp_offset)

    async def _wait_turn(self, weight: int, order: bool) -> None:
        lim = self.limits
        now = self._monotonic()
        if now < lim.banned_until:
            raise VenueError(
                f"Binance has banned this IP for {lim.banned_until - now:.0f} s more (HTTP 418); "
                "the desk sends nothing until the ban ends", code=-1003, status=418,
                retry_after=lim.banned_until - now)
        if now < lim.backoff_until:
            await self._pause(lim.backoff_until - now, "HTTP 429 Retry-After")
        if lim.weight_used + weight > lim.weight_limit * SOFT_LIMIT:
            wait = 60.0 - (self._server_ms() % 60_000) / 1000.0 + 0.05
            await self._pause(wait, f"request weight {lim.weight_used}/{lim.weight_limit} "
                                    "this minute")
            lim.weight_used = 0
        if order:
            if lim.orders_10s + 1 > lim.orders_10s_limit * SOFT_LIMIT:
                wait = 10.0 - (self._server_ms() % 10_000) / 1000.0 + 0.05
                await self._pause(wait, f"order rate {lim.orders_10s}/{lim.orders_10s_limit} "
                                        "in 10 s")
                lim.orders_10s = 0
            if lim.orders_1m + 1 > lim.orders_1m_limit * SOFT_LIMIT:
                wait = 60.0 - (self._server_ms() % 60_000) / 1000.0 + 0.05
                await self._pause(wait, f"order rate {lim.orders_1m}/{lim.orders_1m_limit} "
                                        "per minute")
                lim.orders_1m = 0

    async def _pause(self, seconds: float, why: str) -> None:
        self.limits.pauses += 1
        log.warning("slowing down for %.1f s: %s", seconds, why)
        await self._sleep(max(0.0, seconds))

    async def call(self, method: str, *, weight: int = 1, order: bool = False,
                   retry_429: bool = True, **params: Any) -> Any:
        """``await gate.call("futures_create_order", symbol=..., order=True)``.

        Retries once after -1021 (clock re-synced) and once after a 429 (the request was
        refused, so nothing happened); everything else surfaces as ``VenueError``.
        """
        resynced = backed_off = False
        while True:
            await self._wait_turn(weight, order)
            try:
                return await getattr(self.client, method)(**dict(params))
            except BinanceAPIException as exc:
                status, code = int(exc.status_code), int(exc.code or 0)
                if code == -1021 and not resynced:
                    resynced = True
                    offset = await self.sync_time()
                    log.warning("clock drift: -1021 from Binance; offset now %d ms, retrying",
                                offset)
                    continue
                if status == 429 and retry_429 and not backed_off:
                    backed_off = True
                    continue  # _wait_turn sleeps until Retry-After
                if status == 418:
                    raise VenueError(
                        "Binance banned this IP (HTTP 418) for sending after a 429; the desk "
                        "sends nothing until the ban ends", code=code, status=418,
                        retry_after=self.limits.banned_until - self._monotonic()) from None
                if status >= 500:
                    raise VenueError(f"Binance answered HTTP {status}: the request may or may "
                                     "not have been applied", status=status,
                                     unknown_outcome=True) from None
                raise VenueError(explain(code, exc.message or ""), code=code, status=status,
                                 unknown_outcome=code in UNKNOWN_OUTCOME) from None
            except BinanceRequestException as exc:
                raise VenueError(f"unreadable answer from Binance: {exc.message[:200]}",
                                 unknown_outcome=True) from None
            except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
                raise VenueError(f"no answer from Binance ({type(exc).__name__}): the request "
                                 "may or may not have been applied",
                                 unknown_outcome=True) from None
