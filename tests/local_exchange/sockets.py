"""The websocket side of the local exchange: market streams under ``/market`` and ``/public``
(the 2026 split), the user-data stream under ``/private`` with its listenKey, and the ways a
test can break them (drops without a close frame, refused connects, expired keys, stalls).

User-data events are pushed only to connected private sockets, as on Binance: what happens
while nobody listens is lost to the stream and must be fetched over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.local_exchange.model import ApiError


@dataclass
class Sock:
    ws: web.WebSocketResponse
    request: web.Request
    kind: str  # market | public | private
    streams: set[str] = field(default_factory=set)
    combined: bool = True
    listen_key: str = ""
    opened: float = field(default_factory=time.monotonic)


class Sockets:
    """Mixed into ``LocalExchange``."""

    socks: list[Sock]
    listen_keys: dict[str, float]
    listen_key_ttl: float
    keepalives: int
    rejected_ws_connects: int
    market_stalled: bool
    ws_heartbeat: float | None
    ws_max_age: float | None
    _tasks: set[asyncio.Task[Any]]

    def server_ms(self) -> int:
        raise NotImplementedError

    def private_connected(self) -> int:
        """How many user-data streams are connected now (0 = the desk is not listening)."""
        return sum(1 for s in self.socks if s.kind == "private")

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

    async def _push_private(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            for sock in [s for s in self.socks if s.kind == "private"]:
                with contextlib.suppress(Exception):
                    await sock.ws.send_str(json.dumps(event))

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

    def listen_key(self, method: str, p: dict[str, str]) -> dict[str, Any]:
        """POST returns the active key if there is one (and extends it), as Binance does."""
        now = time.monotonic()
        self.listen_keys = {k: exp for k, exp in self.listen_keys.items() if exp > now}
        if method == "POST":
            key = next(iter(self.listen_keys), None) or secrets.token_urlsafe(48)
            self.listen_keys[key] = now + self.listen_key_ttl
            return {"listenKey": key}
        key = p.get("listenKey", "") or next(iter(self.listen_keys), "")
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

