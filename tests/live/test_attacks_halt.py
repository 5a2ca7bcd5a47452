"""Attacks on the emergency stop and on live equity, through what the user runs (issue 8,
items 4 and 9): ``tapedesk halt`` from another shell reports what the desk verified on the
exchange, ``tapedesk resume --yes`` resumes a halted headless desk, and a deposit made while
the desk runs (ACCOUNT_UPDATE) changes the next trade's size."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.local_exchange import LocalExchange
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


def _covered(ex: LocalExchange) -> bool:
    size, stop, target = stop_and_target_cover(ex)
    return size > 0 and stop == size == target


async def test_halt_reports_verified_flat_and_resume_trades_again(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: _covered(ex), 20, "entry, stop and target")
            halt = await desk.acli("halt", "--mode", "live")
            assert halt.returncode == 0, halt
            assert "verified flat" in halt.stdout and "NOT" not in halt.stdout, halt.stdout
            acct = ex.account
            assert acct.positions["BTCUSDT"].amount == 0
            assert not acct.open_orders() and not acct.open_algos()
            await desk.wait_for(lambda: desk.status_is(lambda st: st["halted"] is True), 10,
                                "status halted")
            await ex.set_price("BTCUSDT", "60017")  # a signal while halted: nothing sent
            entries = len([r for r in ex.requests.posts() if not r.reduces])
            # Off a signal price before resuming: the heartbeat re-publishes the current
            # price, and a halted desk need not show 60017 to the strategy (its gate may skip
            # strategies), which would then rightly buy it on the first beat after resume.
            await ex.set_price("BTCUSDT", "60010")
            resume = await desk.acli("resume", "--yes", "--mode", "live")
            assert resume.returncode == 0, resume
            await desk.wait_for(lambda: desk.status_is(lambda st: st["halted"] is False), 10,
                                "status resumed")
            assert len([r for r in ex.requests.posts() if not r.reduces]) == entries == 1
            await ex.set_price("BTCUSDT", "60027")
            await desk.wait_for(lambda: acct.positions["BTCUSDT"].amount > 0, 20,
                                "an entry after resume")
    finally:
        await desk.stop()
        await ex.stop()


async def test_a_deposit_while_running_resizes_the_next_trade(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, balance="1000")
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.deposit("1000")  # 2,000 USDT now, told only through the user stream
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: _covered(ex), 20, "entry, stop and target")
        pos = ex.account.positions["BTCUSDT"]
        stop = next(a for a in ex.account.open_algos() if a.type == "STOP_MARKET")
        taker = ex.account.taker_rate
        loss = pos.amount * ((pos.entry - stop.trigger_price)
                             + (pos.entry + stop.trigger_price) * taker)
        assert D("4.80") <= loss <= D("6.00"), loss  # 0.3 % of 2,000, fees included
    finally:
        await desk.stop()
        await ex.stop()
