"""``/ws/live``: the engine's events, as they are committed, to any number of websocket clients.

One engine subscription feeds one pump. Each event is encoded to JSON and framed (RFC 6455,
a server's frames are unmasked, and compression is off, so every client gets the very same
bytes) once; every ``FLUSH_S`` the frames gathered since the last flush go to each client in
one write. A hundred clients thus cost a hundred writes per flush, not per event (measured:
bench/api_slow_clients.py). A client whose unsent bytes pass ``CLIENT_BUFFER`` (it reads
slower than the desk speaks, or not at all) is dropped: its connection is aborted; the others
and the engine carry on. The engine's side is ``Subscription.put``, a deque append.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import struct
from typing import Any

from aiohttp import WSMsgType, web
from tapedesk.engine.clock import iso
from tapedesk.engine.events import Explanation, Fill, RoundTrip
from tapedesk.engine.snapshot import StateChanged
from tapedesk.engine.trade_json import trade_json

log = logging.getLogger("tapedesk.api")

#: Unsent bytes a client may have before it counts as too slow and is dropped.
CLIENT_BUFFER = 1 << 20
#: Events are sent at most this long after their commit, gathered into one write per client.
FLUSH_S = 0.05
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


def frame(text: str) -> bytes:
    """A final, unmasked, uncompressed text frame (RFC 6455 section 5.2)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 127, n)
    return head + payload


class LiveHub:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        #: connected clients: their transport (where the frames go)
        self.clients: set[asyncio.Transport] = set()
        self.dropped_clients = 0
        self.sent = 0  # messages framed for clients
        self._frames: list[bytes] = []
        self._flush: asyncio.TimerHandle | None = None
        self._sub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sockets: set[web.WebSocketResponse] = set()

    def start(self) -> None:
        self._sub = self.engine.subscribe(maxsize=10_000)
        self._tasks = [asyncio.ensure_future(self._pump()), asyncio.ensure_future(self._ticks())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._flush is not None:
            self._flush.cancel()
        if self._sub is not None:
            self._sub.close()
        # a close handshake each, all at once: a client that never answers costs 1 s in all
        await asyncio.gather(*(asyncio.wait_for(ws.close(message=b"desk stopping"), 1)
                               for ws in list(self._sockets)), return_exceptions=True)
        for transport in list(self.clients):
            transport.abort()
        self.clients.clear()

    def broadcast(self, text: str) -> None:
        """Queue one message for every client; it leaves at the next flush."""
        if not self.clients:
            return
        self._frames.append(frame(text))
        self.sent += 1
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        self._flush = None
        if not self._frames:
            return
        data = b"".join(self._frames)
        self._frames.clear()
        for transport in list(self.clients):
            if transport.is_closing():
                self.clients.discard(transport)
            elif transport.get_write_buffer_size() + len(data) > CLIENT_BUFFER:
                self.clients.discard(transport)
                self.dropped_clients += 1
                log.warning("websocket client dropped: over %d bytes unread", CLIENT_BUFFER)
                transport.abort()  # a close handshake would wait on a peer that is not reading
            else:
                transport.write(data)

    async def _pump(self) -> None:
        sub, seen_drops = self._sub, 0
        async for item in sub:
            if sub.dropped != seen_drops:  # the hub itself fell behind the engine: say so
                missed, seen_drops = sub.dropped - seen_drops, sub.dropped
                self.broadcast(json.dumps({"type": "gap", "data": {"missed": missed}}))
            if self.clients:
                text = encode(item)
                if text is not None:
                    self.broadcast(text)

    async def _ticks(self) -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_EVERY_S)
            if self.clients:
                self.broadcast(self._snapshot())

    def _snapshot(self) -> str:
        return json.dumps({"type": "snapshot", "data": self.engine.snapshot().to_json()},
                          default=str)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096, compress=False)
        await ws.prepare(request)
        transport = request.transport
        if transport is None:  # gone before the handshake finished
            return ws
        transport.write(frame(self._snapshot()))  # where the desk stands, at once
        self.clients.add(transport)
        self._sockets.add(ws)
        try:
            async for msg in ws:  # clients only listen; reading notices their close
                if msg.type is WSMsgType.ERROR:
                    break
        finally:
            self.clients.discard(transport)
            self._sockets.discard(ws)
        return ws
