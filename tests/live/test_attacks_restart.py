"""Attack on truthful restarts (issue 8, item 3), through what the user runs.

``tapedesk --live run --headless`` opens a long with its exchange-side stop and target, is
killed with SIGKILL, the stop fills while no desk is connected (the spawned order carrying a
client id of its own, its events lost to nobody), and the desk is started again on the same
data dir against the same exchange. It must come back flat, with the trade closed at the
exchange's P&L and fees, the day counters counting the loss, the target gone, no difference
raised for its own orders, and able to trade again.
"""

from __future__ import annotations

import asyncio
import re
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


async def test_kill_9_stop_fills_while_down_restart_is_truthful(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=Behaviour.binance())
    ex.behaviour.market_split = []  # one entry trade: this test is about the restart
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount > 0, 20,
                                "the entry")
            await desk.wait_for(lambda: _covered(ex), 10, "stop and target on the exchange")
        stop = next(a for a in ex.account.open_algos() if a.type == "STOP_MARKET")
        await desk.kill9()
        await desk_gone(ex)
        await ex.set_price("BTCUSDT", str(stop.trigger_price - 5))  # nobody is listening
        assert ex.account.positions["BTCUSDT"].amount == 0
        assert ex.account.algos[stop.algo_id].status == "FINISHED"
        exchange_net = sum((D(t["realizedPnl"]) - D(t["commission"])
                            for t in ex.account.trades), D(0))
        assert exchange_net < 0 and exchange_net == ex.wallet_change()
        posts_before = len(ex.requests.order_posts())

        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream again")
        with Heartbeat(ex):
            await desk.wait_for(lambda: _closed_in_journal(desk), 20,
                                "the trade closed in the journal")
            (trade,) = await desk.ajson("trades")
            assert abs(D(trade["pnl"]) - exchange_net) < D("0.01"), (trade, exchange_net)
            await desk.wait_for(lambda: desk.status_is(
                lambda st: st["position"] is None and st["day"]["trades"] == 1), 10,
                "status flat with the trade counted")
            day = (await desk.ajson("status"))["day"]
            assert (day["trades"], day["losses"]) == (1, 1)
            assert abs(D(day["realized_pnl"]) - exchange_net) < D("0.01")
            await desk.wait_for(lambda: not ex.account.open_algos(), 10, "the target cancelled")
            assert not ex.account.open_orders()
            assert not re.search(r"\b[1-9]\d* difference", desk.output()), desk.output()[-3000:]
            # not blocked: the next signal trades, and nothing old was re-sent on the way
            assert len(ex.requests.order_posts()) == posts_before
            await ex.set_price("BTCUSDT", "60017")
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount > 0, 20,
                                "a new entry after the restart")
        assert ex.requests.sent_twice() == []
        desk.assert_no_secret()
    finally:
        await desk.stop()
        await ex.stop()


def _covered(ex: LocalExchange) -> bool:
    size, stop, target = stop_and_target_cover(ex)
    return size > 0 and stop == size == target


async def desk_gone(ex: LocalExchange) -> None:
    for _ in range(200):
        if ex.private_connected() == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the killed desk's user stream is still connected")


async def _closed_in_journal(desk: Desk) -> bool:
    try:
        return len(await desk.ajson("trades")) == 1
    except AssertionError:
        return False


async def test_kill_9_restart_keeps_the_open_trade_and_its_orders(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=Behaviour.binance())
    ex.behaviour.market_split = []
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: _covered(ex), 20, "entry, stop and target")
        algos_before = {a.algo_id for a in ex.account.open_algos()}
        leverage = ex.account.positions["BTCUSDT"].leverage
        size = ex.account.positions["BTCUSDT"].amount
        await desk.kill9()
        await desk_gone(ex)
        posts = len(ex.requests.order_posts())

        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream again")
        with Heartbeat(ex):
            await desk.wait_for(lambda: desk.status_is(
                lambda st: D(st["position"]["qty"]) == size), 10, "status with the position")
            await asyncio.sleep(2)  # reconciliation has run; nothing may be sent
            assert not re.search(r"\b[1-9]\d* difference", desk.output()), desk.output()[-3000:]
            assert {a.algo_id for a in ex.account.open_algos()} == algos_before
            assert len(ex.requests.order_posts()) == posts  # nothing re-sent
            assert ex.account.positions["BTCUSDT"].leverage == leverage  # not reset
            stop = next(a for a in ex.account.open_algos() if a.type == "STOP_MARKET")
            await ex.set_price("BTCUSDT", str(stop.trigger_price - 3))  # now it fills, live
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount == 0, 10,
                                "the stop")
            await desk.wait_for(lambda: _closed_in_journal(desk), 20, "the trade closed")
            (trade,) = await desk.ajson("trades")
            net = sum((D(t["realizedPnl"]) - D(t["commission"]) for t in ex.account.trades),
                      D(0))
            assert abs(D(trade["pnl"]) - net) < D("0.01")
            await desk.wait_for(lambda: not ex.account.open_algos(), 10, "the target gone")
    finally:
        await desk.stop()
        await ex.stop()
