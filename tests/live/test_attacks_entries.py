"""Attacks on the entry, through ``tapedesk --live run --headless`` against the local
exchange behaving like Binance (issue 8, items 2 and 5):

- a MARKET entry filled in three trades at three prices: the exchange-side stop and target
  must cover the whole position, not the first trade;
- a 503 on the entry POST after the exchange accepted it, with the order invisible to
  look-ups (and its stream events late) for a few seconds: the entry must never be sent
  twice, and once it is found filled it must be protected.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.local_exchange import Behaviour, LocalExchange
from tests.local_exchange.desk import (
    KEY,
    SECRET,
    Desk,
    Heartbeat,
    desk_keyring,
    stop_and_target_cover,
    write_config,
)

__all__ = ["desk_keyring"]
D = Decimal
pytestmark = pytest.mark.keyring


@pytest.fixture
async def exchange():
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=Behaviour.binance())
    await ex.start()
    yield ex
    await ex.stop()


async def test_entry_filled_in_three_trades_is_protected_whole(exchange, tmp_path,
                                                               desk_keyring):
    desk = Desk(tmp_path, write_config(tmp_path, exchange), desk_keyring)
    await desk.start()
    try:
        await desk.wait_for(lambda: exchange.private_connected() >= 1, 30, "user stream")
        with Heartbeat(exchange):
            await exchange.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: exchange.account.positions["BTCUSDT"].amount > 0, 20,
                                "the entry")
            entry = exchange.requests.posts()[0]
            assert len(exchange.account.trades) == 3  # the exchange split it as asked
            await desk.wait_for(lambda: stop_and_target_cover(exchange)[1:] ==
                                stop_and_target_cover(exchange)[:1] * 2, 10,
                                "stop and target covering the whole position")
            size, stop, target = stop_and_target_cover(exchange)
            assert size == D(entry.params["quantity"]) == stop == target
            assert exchange.account.protection.longest() < 10.0
            await desk.wait_for(lambda: desk.status_is(
                lambda st: D(st["position"]["qty"]) == size), 10,
                "status showing all three trades")
    finally:
        await desk.stop()


async def test_503_on_entry_with_late_visibility_never_enters_twice(exchange, tmp_path,
                                                                    desk_keyring):
    exchange.behaviour.market_split = []  # one trade: this test is about the unknown outcome
    desk = Desk(tmp_path, write_config(tmp_path, exchange), desk_keyring)
    await desk.start()
    try:
        await desk.wait_for(lambda: exchange.private_connected() >= 1, 30, "user stream")
        exchange.inject(path="/fapi/v1/order", method="POST", status=503, after=True,
                        when=lambda p: p.get("reduceOnly", "false") != "true")
        exchange.behaviour.hide_next_orders, exchange.behaviour.hide_for_s = 1, 4.0
        exchange.behaviour.hide_stream = True
        with Heartbeat(exchange):
            await exchange.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: exchange.account.positions["BTCUSDT"].amount > 0, 20,
                                "the entry")
            size = exchange.account.positions["BTCUSDT"].amount
            await desk.wait_for(lambda: stop_and_target_cover(exchange)[1] == size, 20,
                                "a stop covering the entry once it was found")
            await exchange.set_price("BTCUSDT", "60004")
            await asyncio.sleep(6)  # a look-up window's worth: nothing else may be sent
        assert exchange.requests.sent_twice() == []
        opening = [o for o in exchange.account.orders.values() if not o.reduce_only]
        assert len(opening) == 1, [o.rest() for o in opening]
        assert exchange.account.positions["BTCUSDT"].amount == size
        assert exchange.account.protection.longest() < 10.0 + 4.0  # grace after visibility
    finally:
        await desk.stop()


async def test_entry_expired_partly_filled_is_protected_as_filled(exchange, tmp_path,
                                                                   desk_keyring):
    exchange.behaviour.market_split = []
    desk = Desk(tmp_path, write_config(tmp_path, exchange), desk_keyring)
    await desk.start()
    try:
        await desk.wait_for(lambda: exchange.private_connected() >= 1, 30, "user stream")
        exchange.behaviour.expire_after = D("0.4")
        with Heartbeat(exchange):
            await exchange.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: exchange.account.positions["BTCUSDT"].amount > 0, 20,
                                "the partial entry")
            wanted = D(exchange.requests.posts()[0].params["quantity"])
            size = exchange.account.positions["BTCUSDT"].amount
            assert 0 < size < wanted
            await desk.wait_for(lambda: stop_and_target_cover(exchange) == (size, size, size),
                                10, "stop and target on the filled part")
            await desk.wait_for(lambda: desk.status_is(
                lambda st: D(st["position"]["qty"]) == size), 10, "status showing the part")
            await exchange.set_price("BTCUSDT", "60004")
            await asyncio.sleep(2)  # no second entry for the part that expired
            assert len([r for r in exchange.requests.posts() if not r.reduces]) == 1
    finally:
        await desk.stop()
