"""A deliberately plain signed client for testing the local exchange itself (not the desk's
client): HMAC-SHA256 over the query string, ``X-MBX-APIKEY``, and a user-data socket that
keeps every event it receives, in order."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp


class RawClient:
    def __init__(self, base: str, key: str, secret: str) -> None:
        self.base = base.rstrip("/")  # http://127.0.0.1:port
        self.key = key
        self.secret = secret
        self.session = aiohttp.ClientSession()
        self.events: list[dict[str, Any]] = []
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def call(self, method: str, path: str, **params: Any) -> tuple[int, Any]:
        """(HTTP status, JSON body or text) for a signed request."""
        params = {k: str(v).lower() if isinstance(v, bool) else str(v)
                  for k, v in params.items()}
        params["timestamp"] = str(int(time.time() * 1000))
        query = urlencode(params)
        sig = hmac.new(self.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        url = f"{self.base}{path}?{query}&signature={sig}"
        async with self.session.request(method, url,
                                        headers={"X-MBX-APIKEY": self.key}) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    async def ok(self, method: str, path: str, **params: Any) -> Any:
        status, body = await self.call(method, path, **params)
        assert status == 200, (status, body)
        return body

    async def listen(self) -> None:
        async with self.session.post(f"{self.base}/fapi/v1/listenKey",
                                     headers={"X-MBX-APIKEY": self.key}) as r:
            key = (await r.json())["listenKey"]
        ws_base = self.base.replace("http://", "ws://")
        self._ws = await self.session.ws_connect(f"{ws_base}/private/ws?listenKey={key}")
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append(json.loads(msg.data))

    def kinds(self) -> list[str]:
        """One word per event: ``ORDER:<x>/<X>``, ``ALGO:<X>``, ``ACCOUNT:<m>``."""
        out = []
        for e in self.events:
            if e["e"] == "ORDER_TRADE_UPDATE":
                out.append(f"ORDER:{e['o']['x']}/{e['o']['X']}")
            elif e["e"] == "ALGO_UPDATE":
                out.append(f"ALGO:{e['o']['X']}")
            elif e["e"] == "ACCOUNT_UPDATE":
                out.append(f"ACCOUNT:{e['a']['m']}")
        return out

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
        await self.session.close()
