"""A local stand-in for Telegram's Bot API on 127.0.0.1 (aiohttp): getMe, deleteWebhook,
getUpdates (long polling) and sendMessage, enough for python-telegram-bot's Application.

Tests queue user messages with ``say(chat_id, text)`` and read the bot's replies from
``sent``. Requests for any other token get 401, as Telegram answers a wrong token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web


class BotApi:
    def __init__(self, token: str) -> None:
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self._new = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._closing = False
        self.fail_sends = 0  # the next N sendMessage calls answer 502, as a flaky API does

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        self._closing = True  # a long poll still open returns at once
        self._new.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def say(self, chat_id: int, text: str) -> None:
        n = len(self.updates) + 1
        entities = ([{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
                    if text.startswith("/") else [])
        self.updates.append({"update_id": n, "message": {
            "message_id": n, "date": int(time.time()), "text": text, "entities": entities,
            "chat": {"id": chat_id, "type": "private", "first_name": "T"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "T"}}})
        self._new.set()

    def replies(self, chat_id: int) -> list[str]:
        return [m["text"] for m in self.sent if int(m["chat_id"]) == chat_id]

    async def until(self, pred: Any, timeout: float = 15.0) -> bool:
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                return False
            await asyncio.sleep(0.02)
        return True

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        out: dict[str, Any] = {}
        for k, v in form.items():
            try:
                out[k] = json.loads(v) if isinstance(v, str) else v
            except ValueError:
                out[k] = v
        return out

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        p = await self._params(request)
        if method == "getMe":
            return _ok({"id": 42, "is_bot": True, "first_name": "Desk", "username": "desk_bot",
                        "can_join_groups": False, "can_read_all_group_messages": False,
                        "supports_inline_queries": False})
        if method == "deleteWebhook":
            if p.get("drop_pending_updates"):
                self.updates.clear()
            return _ok(True)
        if method == "getUpdates":
            offset = int(p.get("offset") or 0)
            timeout = min(float(p.get("timeout") or 0), 10.0)
            end = time.monotonic() + timeout
            while True:
                ready = [u for u in self.updates if u["update_id"] >= offset]
                if ready or self._closing or time.monotonic() >= end:
                    return _ok(ready)
                self._new.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(end - time.monotonic(), 0)):
                        await self._new.wait()
        if method == "sendMessage" and self.fail_sends > 0:
            self.fail_sends -= 1
            return web.json_response({"ok": False, "error_code": 502,
                                      "description": "Bad Gateway"}, status=502)
        if method == "sendMessage":
            self.sent.append({"chat_id": p["chat_id"], "text": p["text"]})
            return _ok({"message_id": 1000 + len(self.sent), "date": int(time.time()),
                        "chat": {"id": int(p["chat_id"]), "type": "private"},
                        "text": p["text"]})
        return _ok(True)


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})
