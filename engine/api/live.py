"""``/ws/live``: the engine's events, as they are committed, to any number of websocket clients.

One engine subscription feeds one pump, which encodes each event to JSON once and offers the
text to every client's own bounded queue. A client whose queue is full (it reads slower than
the desk speaks) is dropped: its connection is aborted, the others and the engine carry on.
The engine never waits for a client: its side is ``Subscription.put`` (a deque append).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web
from tapedesk.engine.backtest import trade_json
from tapedesk.engine.clock import iso
from tapedesk.engine.events import Explanation, Fill, RoundTrip
from tapedesk.engine.snapshot import StateChanged

log = logging.getLogger("tapedesk.api")

#: Messages a client may have waiting before it counts as too slow and is dropped.
CLIENT_QUEUE = 1000
#: How often connected clients get a ``snapshot`` message (equity, P&L, positions, feed).
SNAPSHOT_EVERY_S = 1.0


def encode(item: Any) -> str | None:
    """One engine event as the JSON text clients get; None for what is not theirs."""
    if isinstance(item, Explanation):
        data = {"ts": item.ts, "time": iso(item.ts), "kind": str(item.kind), "text": item.text,
                "strategy": item.strategy, "symbol": item.symbol, "rule": item.rule}
        kind = "explanation"
    elif isinstance(item, RoundTrip):
        data, kind = trade_json(item), "trade"
    elif isinstance(item, Fill):
        data, kind = dataclasses.asdict(item), "fill"
    elif isinstance(item, StateChanged):
        data, kind = {"state": str(item.state), "text": item.text}, "state"
    else:
        return None
    return json.dumps({"type": kind, "data": data}, default=str)


class LiveClient:
    """One websocket: its queue and the task that writes it out."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.transport = request.transport
        self.queue: deque[str] = deque()
        self.ready = asyncio.Event()
        self.dropped = False

    def offer(self, text: str) -> bool:
        """Queue ``text``; False when the client is too far behind (the hub drops it)."""
        if len(self.queue) >= CLIENT_QUEUE:
            return False
        self.queue.append(text)
        self.ready.set()
        return True

    async def write(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.queue:
                await self.ws.send_str(self.queue.popleft())

    def drop(self) -> None:
        """Abort the connection: a close handshake would wait on a peer that is not reading."""
        self.dropped = True
        self.queue.clear()
        if self.transport is not None:
            self.transport.abort()


class LiveHub:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.clients: set[LiveClient] = set()
        self.dropped_clients = 0
        self.sent = 0
        self._sub: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._sub = self.engine.subscribe(maxsize=10_000)
        self._tasks = [asyncio.ensure_future(self._pump()), asyncio.ensure_future(self._ticks())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._sub is not None:
            self._sub.close()
        for client in list(self.clients):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.ws.close(), 1)
            client.drop()

    def broadcast(self, text: str) -> None:
        for client in list(self.clients):
            if not client.offer(text):
                self.clients.discard(client)
                self.dropped_clients += 1
                log.warning("websocket client dropped: %d messages behind", CLIENT_QUEUE)
                client.drop()
        self.sent += 1

    async def _pump(self) -> None:
        sub, seen_drops = self._sub, 0
        async for item in sub:
            if sub.dropped != seen_drops:  # the hub itself fell behind the engine: say so
                self.broadcast(json.dumps({"type": "gap", "data": {"missed": sub.dropped -
                                                                   seen_drops}}))
                seen_drops = sub.dropped
            if self.clients:
                text = encode(item)
                if text is not None:
                    self.broadcast(text)

    async def _ticks(self) -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_EVERY_S)
            if self.clients:
                snap = self.engine.snapshot().to_json()
                self.broadcast(json.dumps({"type": "snapshot", "data": snap}, default=str))

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
        await ws.prepare(request)
        client = LiveClient(ws, request)
        self.clients.add(client)
        snap = self.engine.snapshot().to_json()
        client.offer(json.dumps({"type": "snapshot", "data": snap}, default=str))
        writer = asyncio.ensure_future(client.write())
        try:
            async for msg in ws:  # clients only listen; reading notices their close
                if msg.type is WSMsgType.ERROR:
                    break
        finally:
            self.clients.discard(client)
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer
        return ws
