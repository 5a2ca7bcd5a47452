"""Attacks on `tapedesk close` racing the exchange, on a live desk:

- `close` while the emergency stop is flattening: refused (nothing sent twice), one close on
  the exchange, and the emergency-stop trade's story equals the journal;
- after `tapedesk resume`, the stop fills between the desk's check and its close order (the
  close is held up on the way): the close must be refused as reduce-only by the exchange,
  the account ends flat and never short, the trade ends as a stop-loss, and its story equals the journal.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.attacks_desk._venue import assert_story_matches_journal, covered, rows, stops
from tests.local_exchange import LocalExchange
from tests.local_exchange.desk import KEY, SECRET, Desk, Heartbeat, desk_keyring, write_config
from tests.local_exchange.request_log import ORDER

__all__ = ["desk_keyring"]
D = Decimal
pytestmark = pytest.mark.keyring


def _closing_market(p: dict[str, str]) -> bool:
    return p.get("type") == "MARKET" and p.get("reduceOnly", "").lower() == "true"


def _close_posts(ex: LocalExchange) -> list:
    return [r for r in ex.requests.posts(ORDER) if _closing_market(r.params)]


async def test_close_racing_the_stop_and_the_emergency_stop(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            # Trade 1, closed by the emergency stop while the trader also asks to close.
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: covered(ex), 20, "trade 1 covered")
            ex.inject(path=ORDER, method="POST", delay=4.0, times=5, when=_closing_market)
            halt = asyncio.create_task(desk.acli("halt"))
            await desk.wait_for(lambda: _close_posts(ex), 10, "the flatten sent")
            also = await desk.acli("close", "BTCUSDT")
            assert ex.account.positions["BTCUSDT"].amount > 0, "the flatten was not held up"
            assert also.returncode == 3, also
            assert "emergency stop" in also.stdout, also.stdout
            halted = await halt
            assert halted.returncode == 0, halted
            assert ex.account.positions["BTCUSDT"].amount == 0
            await asyncio.sleep(1.0)
            assert ex.account.positions["BTCUSDT"].amount == 0
            assert [r.code for r in _close_posts(ex) if r.code == 0] == [0], _close_posts(ex)
            await desk.wait_for(lambda: rows(desk, "SELECT id FROM trades"), 10, "trade 1")
            [(t1,)] = rows(desk, "SELECT id FROM trades")
            assert_story_matches_journal(desk, t1)
            ex.faults.clear()
            resumed = await desk.acli("resume", "--yes")
            assert resumed.returncode == 0, resumed
            sent_before = len(_close_posts(ex))

            # Trade 2: the close is held 1.5 s before the exchange sees it; the stop fills
            # meanwhile.
            await ex.set_price("BTCUSDT", "60017")
            await desk.wait_for(lambda: covered(ex), 20, "trade 2 covered")
            [stop] = stops(ex)
            ex.inject(path=ORDER, method="POST", delay=1.5, when=_closing_market)
            close = asyncio.create_task(desk.acli("close", "BTCUSDT"))
            await desk.wait_for(lambda: len(_close_posts(ex)) > sent_before, 10,
                                "the close on its way")
            await ex.set_price("BTCUSDT", str(stop.trigger_price - 12))
            assert ex.account.positions["BTCUSDT"].amount == 0, "the stop did not fill"
            said = await close
            assert said.returncode == 0, said
            assert "(exit reason stop-loss)" in said.stdout, said.stdout  # what happened
            assert ex.account.positions["BTCUSDT"].amount == 0  # never short
            late = _close_posts(ex)[sent_before:]
            await desk.wait_for(lambda: late[0].status, 10, "the close answered")
            assert [r.code for r in late] == [-2022]
            await desk.wait_for(lambda: desk.status_is(lambda s: s["position"] is None), 15,
                                "the desk flat")
            await desk.wait_for(lambda: len(rows(desk, "SELECT id FROM trades")) == 2, 10,
                                "trade 2")
            await asyncio.sleep(1.0)  # a re-sent close would show up here
            assert len(_close_posts(ex)) == sent_before + 1
            assert ex.account.positions["BTCUSDT"].amount == 0
        [(t2, reason2)] = rows(desk, "SELECT id, reason FROM trades WHERE id != ?", (t1,))
        assert reason2 != "manual", reason2  # the stop closed it, not the trader
        assert_story_matches_journal(desk, t2)
    finally:
        await desk.stop()
        await ex.stop()
