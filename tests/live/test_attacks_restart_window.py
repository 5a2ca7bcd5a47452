"""The kill -9 window between the exchange taking an order and the journal knowing it, through
``tapedesk --live run --headless`` (issue: a restarted desk blocked by its own orders).

The race is made certain, not hoped for: the test holds the journal's write lock (a slow
disk, another process's long write) from the signal on, for at most 1.5 s, and SIGKILLs the
desk from inside the exchange the moment it accepts the second protective order, before the
desk has its answer. A desk that journals each intent *before* it sends it (write-ahead)
restarts recognising its own stop and target; one that sends first restarted blocked by
"differences" that were its own orders.

Orders that are not the desk's own (a hand-placed order, another program's order in the
desk's id format that its journal never saw) still block entries until answered.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.live.test_attacks_restart import _closed_in_journal, _covered, desk_gone
from tests.local_exchange import Behaviour, LocalExchange
from tests.local_exchange.desk import (
    KEY,
    SECRET,
    Desk,
    Heartbeat,
    desk_keyring,
    write_config,
)

__all__ = ["desk_keyring"]
D = Decimal
pytestmark = pytest.mark.keyring
DIFFERENCES = re.compile(r"\b[1-9]\d* difference")


class JournalHeld:
    """Another connection holding the journal's write lock (``BEGIN IMMEDIATE``): the desk's
    commits wait (its busy timeout is 5 s) until ``release``."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, timeout=5, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.conn.execute("ROLLBACK")
            self.conn.close()


def journal_rows(desk: Desk) -> dict[str, dict]:
    with sqlite3.connect(f"file:{desk.data_dir / 'live.db'}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return {r["client_id"]: dict(r) for r in conn.execute("SELECT * FROM orders")}


async def _started(ex: LocalExchange, tmp_path: Path, desk_keyring: dict[str, str]) -> Desk:
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    await desk.start()
    await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
    return desk


async def test_kill_9_after_the_exchange_took_the_stop_before_the_journal_heard(
        tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=Behaviour.binance())
    ex.behaviour.market_split = []
    await ex.start()
    desk = await _started(ex, tmp_path, desk_keyring)
    killed_on: list[str] = []

    def kill_once_protected(req) -> None:  # inside the exchange, before the desk's answer
        if not killed_on and _covered(ex):
            killed_on.append(req.client_id)
            assert desk.proc is not None
            desk.proc.send_signal(signal.SIGKILL)

    try:
        ex.order_hooks.append(kill_once_protected)
        held = JournalHeld(desk.data_dir / "live.db")
        asyncio.get_running_loop().call_later(1.5, held.release)
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            assert desk.proc is not None
            await asyncio.wait_for(desk.proc.wait(), 30)
        held.release()
        ex.order_hooks.clear()
        await desk_gone(ex)
        (cid,) = killed_on
        algos = {a.client_algo_id: a.algo_id for a in ex.account.open_algos()}
        assert cid in algos and len(algos) == 2
        size = ex.account.positions["BTCUSDT"].amount
        rows = journal_rows(desk)
        # write-ahead: the order the exchange took last is journaled, its answer is not
        assert set(algos) <= set(rows), rows
        assert rows[cid]["status"] == "PENDING", rows[cid]
        posts = len(ex.requests.order_posts())

        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream again")
        with Heartbeat(ex):
            await desk.wait_for(lambda: "Reconciled" in desk.output(), 20, "reconciliation")
            out = desk.output()
            assert not DIFFERENCES.search(out), out[-3000:]
            assert re.search(rf"{cid}.*sent just before the restart.*accepted", out), out[-3000:]
            await desk.wait_for(lambda: desk.status_is(
                lambda st: D(st["position"]["qty"]) == size), 10, "status with the position")
            await desk.wait_for(lambda: all(
                journal_rows(desk)[c]["status"] == "NEW" for c in algos), 10,
                "the journal knows both orders as accepted")
            assert {a.client_algo_id: a.algo_id for a in ex.account.open_algos()} == algos
            assert len(ex.requests.order_posts()) == posts  # nothing re-sent
            stop = next(a for a in ex.account.open_algos() if a.type == "STOP_MARKET")
            await ex.set_price("BTCUSDT", str(stop.trigger_price - 3))  # the stop protects
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount == 0, 10,
                                "the stop")
            await desk.wait_for(lambda: _closed_in_journal(desk), 20, "the trade closed")
            await desk.wait_for(lambda: not ex.account.open_algos(), 10, "the target gone")
            await ex.set_price("BTCUSDT", "60017")  # not blocked: the next signal trades
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount > 0, 20,
                                "a new entry after the restart")
        assert ex.requests.sent_twice() == []
    finally:
        await desk.stop()
        await ex.stop()


async def test_kill_9_with_the_entry_journaled_but_not_on_the_exchange(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=Behaviour.binance())
    await ex.start()
    desk = await _started(ex, tmp_path, desk_keyring)
    sent: list[str] = []

    def kill_as_it_arrives(params: dict[str, str]) -> bool:  # before the exchange applies it
        if not sent:
            sent.append(params.get("newClientOrderId", ""))
            assert desk.proc is not None
            desk.proc.send_signal(signal.SIGKILL)
        return True

    try:
        # the entry's request dies with the desk: the exchange never takes it (a 503 later)
        ex.inject(path="/fapi/v1/order", method="POST", delay=0.5, status=503,
                  when=lambda p: p.get("reduceOnly") != "true" and kill_as_it_arrives(p))
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            assert desk.proc is not None
            await asyncio.wait_for(desk.proc.wait(), 30)
        await desk_gone(ex)
        (cid,) = sent
        assert journal_rows(desk)[cid]["status"] == "PENDING"  # written ahead of the send
        assert ex.account.positions["BTCUSDT"].amount == 0 and not ex.account.open_orders()

        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream again")
        with Heartbeat(ex):
            await desk.wait_for(lambda: "Reconciled" in desk.output(), 20, "reconciliation")
            out = desk.output()
            assert not DIFFERENCES.search(out), out[-3000:]
            said = [line for line in out.splitlines() if cid in line and " INFO " not in line]
            assert len(said) == 1 and "never reached the exchange before the restart" in said[0], (
                out[-3000:])
            await desk.wait_for(lambda: journal_rows(desk)[cid]["status"] == "REJECTED", 10,
                                "the dropped intent no longer open in the journal")
            await ex.set_price("BTCUSDT", "60017")  # not blocked by its own lost entry
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount > 0, 20,
                                "a new entry after the restart")
        assert [r.client_id for r in ex.requests.order_posts()].count(cid) == 1  # not re-sent
    finally:
        await desk.stop()
        await ex.stop()


async def test_orders_that_are_not_the_desks_own_still_block_entries(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=Behaviour.binance())
    await ex.start()
    desk = await _started(ex, tmp_path, desk_keyring)
    try:
        await desk.kill9()
        await desk_gone(ex)
        # placed while the desk was down: by hand on the web, and by another program using
        # the desk's id format, which this desk's journal never saw
        ex.account.new_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                              "quantity": "0.002", "price": "50000", "timeInForce": "GTC",
                              "newClientOrderId": "web_hand1"})
        ex.account.new_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                              "quantity": "0.002", "price": "50010", "timeInForce": "GTC",
                              "newClientOrderId": "td-987654321-e"})
        posts = len(ex.requests.order_posts())
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream again")
        with Heartbeat(ex):
            await desk.wait_for(lambda: DIFFERENCES.search(desk.output()), 20,
                                "the differences listed")
            out = desk.output()
            assert "2 difference(s)" in out, out[-3000:]
            assert "order:web_hand1" in out and "order:td-987654321-e" in out
            await ex.set_price("BTCUSDT", "60007")  # a signal: refused, blocked
            await asyncio.sleep(1.0)
            assert len(ex.requests.order_posts()) == posts
            for key in ("order:web_hand1", "order:td-987654321-e"):
                done = await desk.acli("reconcile", "--mode", "live", key, "ignore")
                assert done.returncode == 0, done.stderr
            await ex.set_price("BTCUSDT", "60017")
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount > 0, 20,
                                "an entry once the trader answered")
    finally:
        await desk.stop()
        await ex.stop()
