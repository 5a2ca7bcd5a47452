"""Attacks on the phone bot (issue #12) the way the world sends them: group chats with other
bots in them, strangers flooding, a Bot API answering 500s, garbage or nothing, a token
revoked while the desk runs, /halt twice and /halt while the venue refuses every order.

The bot runs on a real replay engine against tests/notify/bot_api.py's local Bot API."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from tapedesk.engine.assembly import build_replay_engine
from tapedesk.engine.notify_config import TelegramConfig
from tapedesk.engine.telegram_bot import NOT_ALLOWED, TelegramBot

from tests.engine.helpers import write_sample_csv
from tests.notify.bot_api import BotApi

TOKEN = "123456789:AAHattack-token-for-a-local-stand-in_xy"
SECRET = TOKEN.split(":")[1]
ME, GROUP, STRANGER = 1111, -100777, 2222


class HostileApi(BotApi):
    """The stand-in, plus what real servers and chats do: group messages addressed to other
    bots, and getUpdates answering 500, garbage, nothing (a hang) or 401 (token revoked)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.mode = "ok"
        self.polls = 0

    def say_in(self, chat_id: int, text: str, chat_type: str = "supergroup",
               edited: bool = False, sender: int = ME) -> None:
        self.say(chat_id, text)
        u = self.updates[-1]
        u["message"]["chat"] = {"id": chat_id, "type": chat_type, "title": "desk group"}
        u["message"]["from"] = {"id": sender, "is_bot": False, "first_name": "T"}
        if edited:
            u["edited_message"] = u.pop("message")
            u["edited_message"]["edit_date"] = int(time.time())

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "getUpdates" and self.mode != "ok":
            self.polls += 1
            self.calls.append("getUpdates")
            if self.mode == "500":
                return web.json_response({"ok": False, "error_code": 500,
                                          "description": "Internal Server Error"}, status=500)
            if self.mode == "garbage":
                return web.Response(text="<html>bad gateway</html>", status=502)
            if self.mode == "hang":
                await asyncio.sleep(0.5)
                return web.Response(text="{", content_type="application/json")
            if self.mode == "401":
                return web.json_response({"ok": False, "error_code": 401,
                                          "description": "Unauthorized"}, status=401)
        return await super()._handle(request)


@pytest.fixture
async def api():
    a = HostileApi(TOKEN)
    await a.start()
    yield a
    await a.close()


@pytest.fixture
async def desk(tmp_path: Path):
    eng = build_replay_engine(write_sample_csv(tmp_path / "btc.csv", days=1),
                              data_dir=tmp_path / "d", speed=0, control=False)
    await eng.start()
    yield eng
    await eng.stop()


async def _bot(eng: Any, api: BotApi, allowed: list[int]) -> TelegramBot:
    bot = TelegramBot(eng, TelegramConfig(enabled=True, allowed_chat_ids=allowed,
                                          api_url=api.base_url), token=TOKEN)
    await bot.start()
    assert await api.until(lambda: "getUpdates" in api.calls)
    return bot


def _shorter_halt_wait(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """halt_and_verify binds HALT_WAIT_S (20 s) as its default when defined."""
    from tapedesk.engine import control

    monkeypatch.setattr(control.halt_and_verify, "__defaults__", (seconds,))


async def test_halt_addressed_to_another_bot_in_a_group_does_not_halt(desk, api) -> None:
    """In an allowed group, `/halt@otherbot` is a command for another bot: ours must not
    stop the desk for it (Telegram delivers such commands to every bot with privacy off)."""
    bot = await _bot(desk, api, [GROUP])
    try:
        api.say_in(GROUP, "/halt@other_bot")
        api.say_in(GROUP, "/status@desk_bot")  # ours (getMe says desk_bot): answered
        assert await api.until(lambda: any("desk:" in r for r in api.replies(GROUP)))
        await asyncio.sleep(0.3)
        assert not desk.halted, "a /halt meant for another bot halted the desk"
        assert not any("Emergency stop" in r for r in api.replies(GROUP))
    finally:
        await bot.close()


async def test_halt_with_our_own_suffix_halts(desk, api) -> None:
    bot = await _bot(desk, api, [ME])
    try:
        api.say(ME, "/halt@desk_bot")
        assert await api.until(lambda: any("verified flat" in r for r in api.replies(ME)))
        assert desk.halted
    finally:
        await bot.close()


async def test_edited_message_and_group_from_strangers(desk, api, caplog) -> None:
    """An edited "/halt" is not a new command (real Telegram sends none: allowed_updates is
    ["message"]; this stand-in sends one anyway), and a group that is not allowed gets
    "Not allowed." even when an allowed user writes in it."""
    caplog.set_level(logging.INFO)
    bot = await _bot(desk, api, [ME])
    try:
        api.say_in(ME, "/halt", chat_type="private", edited=True)
        api.say_in(GROUP, "/halt", sender=ME)
        assert await api.until(lambda: api.replies(GROUP) == [NOT_ALLOWED])
        await asyncio.sleep(0.3)
        assert not desk.halted
    finally:
        await bot.close()


async def test_a_flood_of_strangers_does_not_starve_the_owner(desk, api) -> None:
    bot = await _bot(desk, api, [ME])
    try:
        for i in range(300):
            api.say(STRANGER + i, "/halt")
        api.say(ME, "/status")
        assert await api.until(lambda: api.replies(ME), timeout=20)
        assert not desk.halted
        assert bot.refused == 300
    finally:
        await bot.close()


@pytest.mark.parametrize("mode", ["500", "garbage", "hang"])
async def test_a_sick_bot_api_never_stalls_the_desk_and_polling_recovers(desk, api, mode,
                                                                        caplog) -> None:
    caplog.set_level(logging.DEBUG)
    api.mode = mode  # from the first poll (a mode set later waits out a 10 s long poll)
    bot = await _bot(desk, api, [ME])
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    hb = asyncio.create_task(heartbeat())
    try:
        t0 = time.monotonic()
        assert await api.until(lambda: api.polls >= 2, timeout=12), api.polls
        elapsed = time.monotonic() - t0
        # The loop ran all along (a 10 ms heartbeat: at least a third of its beats).
        assert ticks >= elapsed / 0.01 / 3, (ticks, elapsed)
        api.mode = "ok"
        api.say(ME, "/status")
        assert await api.until(lambda: api.replies(ME), timeout=30), "polling never recovered"
    finally:
        hb.cancel()
        await bot.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in logged


async def test_a_token_revoked_mid_run_is_said_and_never_shown(desk, api, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await _bot(desk, api, [ME])
    try:
        api.mode = "401"
        api.say(STRANGER, "hello")  # ends the long poll under way: the next one meets 401
        assert await api.until(lambda: api.polls >= 1)
        await asyncio.sleep(0.5)
        logged = "\n".join(r.getMessage() for r in caplog.records)
        # The trader must learn the bot is gone: a WARNING/ERROR line that says so.
        assert any(r.levelno >= logging.WARNING and "token" in r.getMessage().lower()
                   for r in caplog.records), logged
    finally:
        t0 = time.monotonic()
        await bot.close()
        assert time.monotonic() - t0 < 5
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert SECRET not in logged


async def test_halt_twice_answers_twice(desk, api) -> None:
    bot = await _bot(desk, api, [ME])
    try:
        api.say(ME, "/halt")
        assert await api.until(lambda: any("verified flat" in r for r in api.replies(ME)))
        api.say(ME, "/halt")
        assert await api.until(lambda: sum("verified flat" in r for r in api.replies(ME)) == 2)
        assert desk.halted
    finally:
        await bot.close()


async def test_halt_while_the_venue_refuses_says_not_verified(desk, api, monkeypatch) -> None:
    """The exchange down: the reply must not claim flat."""
    _shorter_halt_wait(monkeypatch, 0.5)

    async def down(*_a: Any, **_k: Any) -> Any:
        raise ConnectionError("venue unreachable")

    monkeypatch.setattr(desk.venue, "fetch_positions", down)
    bot = await _bot(desk, api, [ME])
    try:
        api.say(ME, "/halt")
        assert await api.until(lambda: any("NOT" in r for r in api.replies(ME)), timeout=15), \
            api.replies(ME)
        assert not any("verified flat" in r for r in api.replies(ME))
    finally:
        await bot.close()


class SlowSendApi(HostileApi):
    """sendMessage as the real Telegram answers it: a round trip each, or refused."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.send_delay = 0.0
        self.send_fails = False

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "sendMessage":
            await asyncio.sleep(self.send_delay)
            if self.send_fails:
                self.calls.append("sendMessage")
                return web.json_response({"ok": False, "error_code": 429, "description":
                                          "Too Many Requests: retry after 5",
                                          "parameters": {"retry_after": 5}}, status=429)
        return await super()._handle(request)


@pytest.fixture
async def slow_api():
    a = SlowSendApi(TOKEN)
    await a.start()
    yield a
    await a.close()


async def test_halt_happens_even_when_telegram_refuses_the_acknowledgement(desk,
                                                                          slow_api) -> None:
    """Telegram answers sendMessage with 429 (flood control): the "Emergency stop: …" reply
    fails, and the halt must happen anyway: the desk must not depend on the chat."""
    bot = await _bot(desk, slow_api, [ME])
    try:
        slow_api.send_fails = True
        slow_api.say(ME, "/halt")
        for _ in range(150):
            if desk.halted:
                break
            await asyncio.sleep(0.02)
        assert desk.halted, "a failed acknowledgement cancelled the /halt"
    finally:
        await bot.close()


async def test_one_stranger_spamming_does_not_delay_the_owners_halt(desk, slow_api) -> None:
    """Anyone can find a bot by its name. One stranger sends 200 messages; each refusal is a
    Telegram round trip (30 ms here) in the one queue the owner's /halt waits in."""
    slow_api.send_delay = 0.03
    bot = await _bot(desk, slow_api, [ME])
    try:
        for _ in range(200):
            slow_api.say(STRANGER, "/halt")
        slow_api.say(ME, "/halt")
        t0 = time.monotonic()
        for _ in range(300):
            if desk.halted:
                break
            await asyncio.sleep(0.01)
        assert desk.halted, f"owner's /halt not done {time.monotonic() - t0:.1f} s later"
        assert bot.refused == 200
    finally:
        await bot.close()


async def test_a_halt_sent_while_no_desk_ran_does_not_fire_at_start(desk, api) -> None:
    api.say(ME, "/halt")  # queued before the desk (and its bot) started
    bot = await _bot(desk, api, [ME])
    try:
        api.say(ME, "/status")
        assert await api.until(lambda: api.replies(ME))
        assert not desk.halted and len(api.replies(ME)) == 1
    finally:
        await bot.close()


async def test_an_unreachable_bot_api_does_not_hold_up_the_desks_start(tmp_path: Path,
                                                                       monkeypatch) -> None:
    """The Bot API accepts the connection and never answers (a network black hole at the
    desk's start): the desk must start trading at once, not after python-telegram-bot's
    timeouts; and quitting stays bounded."""
    from tapedesk.engine import companions, telegram_bot
    from tapedesk.engine.config import DeskConfig

    from tests.notify.local_hook import Blackhole

    hole = Blackhole()
    monkeypatch.setattr(companions, "FACTORIES", ["tapedesk.engine.telegram_bot:telegram_bot"])
    monkeypatch.setattr(telegram_bot.TelegramBot, "__init__", _with_token(
        telegram_bot.TelegramBot.__init__))
    cfg = DeskConfig.model_validate({"telegram": {
        "enabled": True, "allowed_chat_ids": [ME],
        "api_url": f"http://127.0.0.1:{hole.port}/bot"}})
    eng = build_replay_engine(write_sample_csv(tmp_path / "btc.csv", days=1),
                              data_dir=tmp_path / "d", config=cfg, speed=0)
    try:
        t0 = time.monotonic()
        await eng.start()
        took = time.monotonic() - t0
        assert took < 1.5, f"the desk's start waited {took:.1f} s for the Bot API"
    finally:
        t1 = time.monotonic()
        await eng.stop()
        hole.close()
    assert time.monotonic() - t1 < 6


def _with_token(init: Any) -> Any:
    def patched(self: Any, engine: Any, cfg: Any, token: str | None = None) -> None:
        init(self, engine, cfg, token or TOKEN)
    return patched
