"""The phone bot against a local stand-in of the Bot API: allow-list, /halt on a real engine
with a position (venue and journal flat afterwards), everything else refused."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from tapedesk.engine.assembly import build_replay_engine
from tapedesk.engine.notify_config import TelegramConfig
from tapedesk.engine.snapshot import DeskState
from tapedesk.engine.telegram_bot import NOT_ALLOWED, REFUSED, TelegramBot

from tests.engine.helpers import write_sample_csv
from tests.notify.bot_api import BotApi

TOKEN = "123456789:AAHfake-token-for-a-local-stand-in_xyz"
ME, STRANGER = 1111, 2222


@pytest.fixture
async def api():
    a = BotApi(TOKEN)
    await a.start()
    yield a
    await a.close()


async def _desk_with_position(tmp_path: Path):
    eng = build_replay_engine(write_sample_csv(tmp_path / "btc.csv", days=2),
                              data_dir=tmp_path / "d", speed=0, control=False)
    await eng.start()
    async for batch in eng.feed.batches():
        for ev in batch:
            eng.process(ev)
            if eng.book.positions and eng.orders.protection(next(iter(eng.book.positions))):
                await eng.commit()
                return eng
    raise AssertionError("no position opened on the sample")


async def _bot(eng, api: BotApi, token: str | None = TOKEN) -> TelegramBot:
    bot = TelegramBot(eng, TelegramConfig(enabled=True, allowed_chat_ids=[ME],
                                          api_url=api.base_url), token=token)
    await bot.start()
    return bot


async def test_halt_from_the_phone_flattens_a_real_position(tmp_path: Path, api: BotApi,
                                                            caplog) -> None:
    caplog.set_level(logging.DEBUG)
    eng = await _desk_with_position(tmp_path)
    assert await eng.venue.fetch_positions(), "the desk must hold a position for this test"
    bot = await _bot(eng, api)
    try:
        # A stranger first: refused, and the desk is untouched.
        api.say(STRANGER, "/halt")
        api.say(STRANGER, "/status")
        assert await api.until(lambda: len(api.replies(STRANGER)) == 2)
        assert api.replies(STRANGER) == [NOT_ALLOWED, NOT_ALLOWED]
        assert await eng.venue.fetch_positions() and not eng.halted

        api.say(ME, "/status")
        assert await api.until(lambda: api.replies(ME))
        assert "RUNNING" in api.replies(ME)[0] and "stop" in api.replies(ME)[0]

        api.say(ME, "/halt")
        assert await api.until(lambda: any("verified flat" in r for r in api.replies(ME)))
        assert "state HALTED" in api.replies(ME)[-1]
        assert await eng.venue.fetch_positions() == {}
        assert await eng.venue.fetch_open_orders() == []
        assert eng.snapshot().state is DeskState.HALTED
        await eng.commit()
        db = sqlite3.connect(eng.journal.path)
        try:
            halted = db.execute("SELECT value FROM settings WHERE key='halted'").fetchone()
            reasons = [r[0] for r in db.execute("SELECT reason FROM trades")]
        finally:
            db.close()
        assert halted == ("1",) and reasons[-1] == "emergency stop"

        # The bot can never undo it or trade: these are all refused.
        for text in ("/resume", "/start", "/buy BTCUSDT", "resume please", "/halt_and_resume"):
            api.say(ME, text)
        assert await api.until(lambda: api.replies(ME).count(REFUSED) == 5)
        assert eng.halted and await eng.venue.fetch_positions() == {}
        assert bot.refused == 7

        api.say(ME, "/trades")
        api.say(ME, "/pnl")
        assert await api.until(lambda: len(api.replies(ME)) >= 10)
        assert "emergency stop" in api.replies(ME)[-2]
        assert "realised" in api.replies(ME)[-1]
    finally:
        await bot.close()
        await eng.stop()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "refused /halt from chat 2222" in logged
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged


async def test_halt_runs_even_when_its_acknowledgement_cannot_be_sent(tmp_path: Path,
                                                                     api: BotApi) -> None:
    """The "stopping…" reply fails (a flaky Bot API): the emergency stop must still run."""
    eng = await _desk_with_position(tmp_path)
    bot = await _bot(eng, api)
    try:
        api.fail_sends = 1
        api.say(ME, "/halt")
        assert await api.until(lambda: any("verified flat" in r for r in api.replies(ME)),
                               timeout=10)
        assert eng.halted and await eng.venue.fetch_positions() == {}
    finally:
        await bot.close()
        await eng.stop()


async def test_a_wrong_token_fails_to_start_without_showing_it(tmp_path: Path, api: BotApi,
                                                               caplog) -> None:
    caplog.set_level(logging.DEBUG)
    eng = build_replay_engine(write_sample_csv(tmp_path / "btc.csv", days=1),
                              data_dir=tmp_path / "d", speed=0, control=False)
    await eng.start()
    wrong = "987654321:BBwrong-token-the-server-refuses_abc"
    try:
        with pytest.raises(RuntimeError) as err:
            await _bot(eng, api, token=wrong)
        assert "InvalidToken" in str(err.value)
        assert wrong not in str(err.value) and wrong.split(":")[1] not in str(err.value)
        assert err.value.__cause__ is None and err.value.__suppress_context__
    finally:
        await eng.stop()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert wrong.split(":")[1] not in logged
