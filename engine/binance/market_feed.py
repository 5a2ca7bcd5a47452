"""Binance's public USDT-M streams as engine market events (paper and live modes; no keys).

Two combined-stream sockets, as python-binance 1.0.37 lays them out after Binance's 2026
split of the futures websocket hosts: ``market/stream?streams=`` for aggTrade, markPrice@1s
and kline, ``public/stream?streams=`` for bookTicker and, when a strategy reads the book
(``on_depth``), the diff-depth stream ``@depth@100ms``. Depth is kept in step by
``DepthSync`` (REST snapshot, U/u/pu checks, a new snapshot after any gap or reconnect).
Each socket is kept alive by a ``StreamSupervisor``; the feed's status is the worse of the two.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from binance import BinanceSocketManager
from tapedesk.engine.binance.depth_sync import DepthSync
from tapedesk.engine.binance.endpoints import Endpoints, apply_to_socket_manager
from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.binance.rest import RestGate
from tapedesk.engine.binance.streams import StreamSupervisor
from tapedesk.engine.events import MarketEvent
from tapedesk.engine.feeds.binance_messages import Unsupported, parse_message
from tapedesk.engine.snapshot import FeedStatus

log = logging.getLogger(__name__)

_RANK = {FeedStatus.LIVE: 0, FeedStatus.CONNECTING: 1, FeedStatus.STALE: 2,
         FeedStatus.RECONNECTING: 3, FeedStatus.DISCONNECTED: 4}


def parse_market_message(msg: dict[str, Any]) -> MarketEvent | None:
    """One combined-stream message → a market event, through the same parser (and the same
    price, size and time checks) as a replayed capture: one reading of Binance's messages.
    None for what the engine does not take from here: an unclosed kline (bars are emitted
    only when closed, so nothing peeks ahead), depth (kept in step by depth_sync), other
    kinds. A malformed message raises MessageError (a ValueError): logged and skipped."""
    data = msg.get("data", msg) if isinstance(msg, dict) else msg
    if isinstance(data, dict) and data.get("e") == "depthUpdate":
        return None
    try:
        return parse_message(msg, "", 0)  # USDT-M messages all carry E: no fallback time
    except Unsupported:
        return None


class BinanceMarketFeed:
    """Pushes parsed events into ``on_event`` (sync, cheap: the engine's own queue)."""

    def __init__(
        self,
        client: Any,
        endpoints: Endpoints,
        symbols: list[str] | tuple[str, ...],
        on_event: Callable[[MarketEvent], None],
        on_status: Callable[[FeedStatus, str], None] | None = None,
        kline_interval: str = "1m",
        stale_after: float = 10.0,
        restart_after: float = 30.0,
        max_queue_size: int = 2000,
        ping_interval: float = 20.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_age: float | None = 23.5 * 3600,
        depth: bool = False,
        depth_limit: int = 1000,
        snapshot_retry_s: float = 1.0,
    ) -> None:
        self.client = client
        self.endpoints = endpoints
        self.symbols = [s.lower() for s in symbols]
        self.on_event = on_event
        self._on_status = on_status
        self.max_queue_size = max_queue_size
        self.ping_interval = ping_interval
        self.status = FeedStatus.CONNECTING
        self.events_in = 0
        self.ignored = collections.Counter[str]()
        market = [f"{s}@{t}" for s in self.symbols
                  for t in ("aggTrade", "markPrice@1s", f"kline_{kline_interval}")]
        public = [f"{s}@bookTicker" for s in self.symbols]
        self.depth = {s.upper(): DepthSync(s) for s in self.symbols} if depth else {}
        if depth:
            public += [f"{s}@depth@100ms" for s in self.symbols]
        self.depth_limit = depth_limit
        self.snapshot_retry_s = snapshot_retry_s
        self._snapshot_tasks: dict[str, asyncio.Task[None]] = {}
        common = dict(on_message=self._message, on_status=self._status_changed,
                      stale_after=stale_after, restart_after=restart_after, max_age=max_age,
                      backoff_base=backoff_base, backoff_max=backoff_max)
        self.supervisors = [
            StreamSupervisor("market", lambda: self._socket(market, "market"), **common),
            StreamSupervisor("public", lambda: self._socket(public, "public"),
                             on_connected=self._public_connected if depth else None, **common),
        ]

    def _socket(self, streams: list[str], category: str) -> Any:
        bsm = BinanceSocketManager(self.client, max_queue_size=self.max_queue_size)
        apply_to_socket_manager(bsm, self.endpoints)
        bsm.ws_kwargs.update(ping_interval=self.ping_interval, ping_timeout=self.ping_interval)
        return bsm.futures_multiplex_socket(streams, category=category)

    def _message(self, msg: dict[str, Any]) -> None:
        data = msg.get("data", msg) if isinstance(msg, dict) else None
        try:  # a malformed message is logged and skipped, not a reconnect with a traceback
            if isinstance(data, dict) and data.get("e") == "depthUpdate" and self.depth:
                self._depth_message(data)
                return
            event = parse_market_message(msg)
            if event is None:
                self.ignored[str(msg.get("data", msg).get("e"))] += 1
                return
        except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            self.ignored["malformed"] += 1
            log.warning("market stream: malformed message skipped (%s: %s)",
                        type(exc).__name__, str(exc)[:120])
            return
        self.events_in += 1
        self.on_event(event)

    def _status_changed(self, _status: FeedStatus, text: str) -> None:
        worst = max((s.status for s in self.supervisors), key=lambda st: _RANK.get(st, 5))
        if worst is not self.status:
            self.status = worst
            if self._on_status:
                self._on_status(worst, text)

    def data_age_s(self) -> float | None:
        ages = [s.age_s() for s in self.supervisors]
        return None if any(a is None for a in ages) else max(a for a in ages if a is not None)

    async def start(self) -> None:
        for sup in self.supervisors:
            sup.start()

    async def stop(self) -> None:
        for sup in self.supervisors:
            await sup.stop()
        for task in list(self._snapshot_tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- depth ------------------------------------------------------------------------------
    async def _public_connected(self) -> None:
        """A new public socket: diffs missed while it was down cannot be replayed."""
        now = time.time_ns() // 1_000_000
        for sync in self.depth.values():
            self._emit(sync.reset(ts=now))
            self._want_snapshot(sync)

    def _depth_message(self, data: dict[str, Any]) -> None:
        sync = self.depth.get(str(data.get("s", "")))
        if sync is None:
            self.ignored["depthUpdate"] += 1
            return
        gaps = sync.resyncs
        try:
            events = sync.on_diff(data)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("malformed depth update skipped (%s): %.200s", exc, data)
            return
        if sync.resyncs != gaps:
            log.warning("%s depth: %s; fetching a new snapshot", sync.symbol, sync.last_gap)
        self._emit(events)
        self._want_snapshot(sync)

    def _emit(self, events: list[MarketEvent]) -> None:
        for ev in events:
            self.events_in += 1
            self.on_event(ev)

    def _want_snapshot(self, sync: DepthSync) -> None:
        task = self._snapshot_tasks.get(sync.symbol)
        if sync.needs_snapshot and (task is None or task.done()):
            self._snapshot_tasks[sync.symbol] = asyncio.create_task(
                self._fetch_snapshot(sync), name=f"depth-snapshot-{sync.symbol}")

    async def _fetch_snapshot(self, sync: DepthSync) -> None:
        """One REST snapshot at a time per symbol, retried until the book is in step."""
        gate = RestGate(self.client)
        while sync.needs_snapshot:
            try:
                snap = await gate.call("futures_order_book", weight=20, symbol=sync.symbol,
                                       limit=self.depth_limit)
            except VenueError as exc:
                log.warning("%s depth snapshot failed: %s", sync.symbol, exc.text)
                await asyncio.sleep(self.snapshot_retry_s)
                continue
            try:
                self._emit(sync.on_snapshot(snap))
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("%s depth snapshot unreadable (%s)", sync.symbol, exc)
            if sync.needs_snapshot:
                await asyncio.sleep(self.snapshot_retry_s)
