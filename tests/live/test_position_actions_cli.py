"""`tapedesk stop-to-breakeven` and `tapedesk close` from another shell, against a live desk
(`tapedesk --live run --headless`, keys in a real keyring) trading on the local exchange:
what the user reads, what the exchange receives, and what the journal (SQLite) ends up
holding. Nothing is halted or paused by either command.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from decimal import Decimal

import pytest
from tapedesk.engine.control import send

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
from tests.local_exchange.request_log import ALGO, ORDER

__all__ = ["desk_keyring"]
D = Decimal
TICK = D("0.1")
pytestmark = pytest.mark.keyring


def _covered(ex: LocalExchange) -> bool:
    size, stop, target = stop_and_target_cover(ex)
    return size > 0 and stop == size == target


def _stops(ex: LocalExchange) -> list:
    return [a for a in ex.account.open_algos("BTCUSDT") if a.type == "STOP_MARKET"]


def _rows(desk: Desk, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{desk.data_dir / 'live.db'}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


async def _desk_price_at_least(desk: Desk, price: Decimal) -> bool:
    """The desk's own last price (its status over the control socket) has reached ``price``."""
    answer = await asyncio.to_thread(send, desk.data_dir / "live.sock", "status", 5.0)
    last = answer.get("status", {}).get("last_prices", {}).get("BTCUSDT")
    return last is not None and D(str(last)) >= price


async def test_cli_moves_the_stop_to_break_even_and_closes_reduce_only(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: _covered(ex), 20, "entry, stop and target")
            pos = ex.account.positions["BTCUSDT"]
            qty, entry = pos.amount, pos.entry
            [old_stop] = _stops(ex)
            sent = len(ex.requests.order_posts())

            # At 60,007 the price is below break-even: refused, nothing reaches the exchange.
            refused = await desk.acli("stop-to-breakeven", "BTCUSDT")
            assert refused.returncode == 3, refused
            assert "refused: a long stop must be below the price" in refused.stdout
            assert len(ex.requests.order_posts()) == sent
            assert [a.algo_id for a in _stops(ex)] == [old_stop.algo_id]

            await ex.set_price("BTCUSDT", "60150")  # past break-even, under the target
            await desk.wait_for(lambda: _desk_price_at_least(desk, D("60150")), 10,
                                "the desk to see 60,150")
            moved = await desk.acli("stop-to-breakeven", "btcusdt")
            assert moved.returncode == 0, moved
            [new_stop] = _stops(ex)
            be = new_stop.trigger_price
            assert f"the venue holds the stop at {be}" in moved.stdout, moved.stdout
            assert new_stop.algo_id != old_stop.algo_id and new_stop.reduce_only
            assert new_stop.qty == qty
            assert ex.account.algos[old_stop.algo_id].status == "CANCELED"
            # Break-even by the exchange's own numbers: entry fee paid, 0.05 % taker exit.
            entry_fee = sum(D(f) for (f,) in _rows(desk, "SELECT fee FROM fills "
                                                         "WHERE role = 'entry'"))
            taker = ex.account.taker_rate

            def net(stop: Decimal) -> Decimal:
                return (stop - entry) * qty - entry_fee - stop * qty * taker

            assert net(be) >= 0 > net(be - TICK), (be, entry, entry_fee)

            closed = await desk.acli("close", "BTCUSDT")
            assert closed.returncode == 0, closed
            assert "(exit reason manual)" in closed.stdout, closed.stdout
            said_qty = re.search(r"reduce-only market SELL (\S+) sent", closed.stdout)
            assert said_qty and D(said_qty.group(1)) == qty, closed.stdout
            [close] = [r for r in ex.requests.posts(ORDER) if r.params.get("type") == "MARKET"
                       and r.params.get("side") == "SELL"]
            assert close.reduces and D(close.params["quantity"]) == qty
            assert ex.account.positions["BTCUSDT"].amount == 0
            await desk.wait_for(lambda: not ex.account.open_algos("BTCUSDT"), 10,
                                "stop and target cancelled")
            again = await desk.acli("close", "BTCUSDT")
            assert again.returncode == 3 and "no open position on BTCUSDT" in again.stdout
            status = await desk.ajson("status")
            assert not status["halted"] and not status["paused"]
        await desk.wait_for(lambda: _rows(desk, "SELECT reason FROM trades"), 10,
                            "the trade in the journal")
        assert _rows(desk, "SELECT reason FROM trades") == [("manual",)]
        said = "\n".join(t for (t,) in _rows(desk, "SELECT text FROM explanations"))
        assert "Stop to break-even on BTCUSDT refused" in said
        assert f"Moving the stop from {old_stop.trigger_price} to {be}" in said
        assert "Manual close BTCUSDT (the trader's request)" in said
        assert not [r for r in ex.requests if r.method == "POST" and r.path == ALGO
                    and r.code]  # no algo order was refused on the way
    finally:
        await desk.stop()
        await ex.stop()
    gone = desk.cli("close", "BTCUSDT")
    assert gone.returncode == 1 and gone.stdout == ""
    assert gone.stderr.strip().splitlines() == [
        f"no desk is running with data dir {desk.data_dir}: nothing to close."]
