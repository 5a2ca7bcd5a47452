"""Review attacks on write-ahead (every live order journaled PENDING before it is sent),
through ``tapedesk --live run --headless`` against the local exchange.

The desk is SIGKILLed from inside the exchange the moment it accepts the *entry* (a market
order: it fills at once), before the desk has its answer or its fill. At restart the entry is
a journaled intent the venue never answered. When the exchange can be asked, the desk must
find the entry filled and own the position with its fill and fee; when the look-up of that
order fails (a 5xx), the desk cannot know whether it reached the exchange, so it must not
call it "never sent" and drop it: it asks the trader.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.live.test_attacks_restart import _covered, desk_gone
from tests.live.test_attacks_restart_window import DIFFERENCES, JournalHeld, journal_rows
from tests.local_exchange import Behaviour, LocalExchange
from tests.local_exchange.desk import KEY, SECRET, Desk, Heartbeat, desk_keyring, write_config

__all__ = ["desk_keyring"]
D = Decimal
pytestmark = pytest.mark.keyring


async def _killed_as_the_entry_fills(tmp_path: Path, desk_keyring: dict[str, str],
                                     split: bool = False) -> tuple[LocalExchange, Desk, str]:
    """A desk killed the moment the exchange took (and filled) its entry, in one trade or in
    three (``split``); returns the exchange, the desk (down) and the entry's client id."""
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=Behaviour.binance())
    if not split:
        ex.behaviour.market_split = []
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    await desk.start()
    await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
    killed_on: list[str] = []

    def kill_on_entry(req) -> None:  # the exchange applied it; the desk has no answer yet
        if not killed_on and req.params.get("reduceOnly") != "true":
            killed_on.append(req.client_id)
            assert desk.proc is not None
            desk.proc.send_signal(signal.SIGKILL)

    ex.order_hooks.append(kill_on_entry)
    with Heartbeat(ex):
        await ex.set_price("BTCUSDT", "60007")
        assert desk.proc is not None
        await asyncio.wait_for(desk.proc.wait(), 30)
    ex.order_hooks.clear()
    await desk_gone(ex)
    (cid,) = killed_on
    assert ex.account.positions["BTCUSDT"].amount > 0  # the entry filled on the exchange
    assert journal_rows(desk)[cid]["status"] == "PENDING"  # written ahead, never answered
    return ex, desk, cid


@pytest.mark.parametrize("split", [False, True], ids=["one_trade", "three_trades"])
async def test_kill_9_as_the_entry_fills_restart_owns_the_position_with_its_fee(
        tmp_path, desk_keyring, split):
    ex, desk, cid = await _killed_as_the_entry_fills(tmp_path, desk_keyring, split)
    try:
        size = ex.account.positions["BTCUSDT"].amount
        trades = [t for t in ex.account.trades if t.get("side") == "BUY"]
        assert len(trades) == (3 if split else 1)
        # the stop and target the restart's fill calls for reach the exchange late (a slow
        # network): the exchange's open orders are read before they are there
        ex.inject(path="/fapi/v1/algoOrder", method="POST", delay=1.0, times=2)
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream again")
        with Heartbeat(ex):
            await desk.wait_for(lambda: _covered(ex), 20, "stop and target placed after restart")
            await desk.wait_for(lambda: desk.status_is(
                lambda st: D(st["position"]["qty"]) == size), 10, "status with the position")
            await asyncio.sleep(1.5)  # reconciliation and protect_all have run
            out = desk.output()
            # the stop and target the fill called for are the desk's own, sent once each
            assert not DIFFERENCES.search(out), out[-3000:]
            assert "never reached the exchange" not in out, out[-3000:]
            algos = ex.account.open_algos()
            assert sorted(a.type for a in algos) == ["STOP_MARKET", "TAKE_PROFIT_MARKET"], algos
            rows = journal_rows(desk)
            assert all(rows[a.client_algo_id]["status"] == "NEW" for a in algos), rows
            await desk.wait_for(lambda: journal_rows(desk)[cid]["status"] == "FILLED", 10,
                                "the entry's row FILLED")
            with sqlite3.connect(f"file:{desk.data_dir / 'live.db'}?mode=ro", uri=True) as c:
                rows = c.execute("SELECT qty, price, fee FROM fills WHERE client_id = ? "
                                 "ORDER BY seq", (cid,)).fetchall()
            assert [(D(q), D(p), D(f)) for q, p, f in rows] == [
                (D(t["qty"]), D(t["price"]), D(t["commission"])) for t in trades], rows
            st = await desk.ajson("status")
            assert D(st["position"]["qty"]) == size
            assert ex.requests.sent_twice() == []
    finally:
        await desk.stop()
        await ex.stop()


async def test_restart_lookup_failing_does_not_call_a_filled_entry_never_sent(
        tmp_path, desk_keyring):
    ex, desk, cid = await _killed_as_the_entry_fills(tmp_path, desk_keyring)
    try:
        # the look-up by client id answers 502 for the whole restart (an exchange in trouble)
        ex.inject(path="/fapi/v1/order", method="GET", status=502, times=10_000,
                  when=lambda p: p.get("origClientOrderId") == cid)
        posts = len(ex.requests.order_posts())
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream again")
        with Heartbeat(ex):
            await desk.wait_for(lambda: DIFFERENCES.search(desk.output()) or "Reconciled"
                                in desk.output(), 30, "reconciliation")
            await asyncio.sleep(1.0)
            out = desk.output()
            # it filled: calling it "never reached the exchange" and dropping it is false
            assert not re.search(rf"{cid}.*never reached the exchange", out), out[-3000:]
            assert journal_rows(desk)[cid]["status"] != "REJECTED"
            # the trader is asked: the position is not silently taken as foreign or dropped
            assert DIFFERENCES.search(out), out[-3000:]
            assert cid in out and "position:BTCUSDT" in out, out[-3000:]
            assert len(ex.requests.order_posts()) == posts  # nothing sent meanwhile
    finally:
        await desk.stop()
        await ex.stop()


async def test_halt_sends_one_close_and_verifies_flat_at_the_first_look(tmp_path, desk_keyring):
    """The emergency stop's close waits for the journal's write-ahead commit (reduce-only: at
    most 0.5 s); the verify that follows must not read the exchange before the close was sent,
    call the position still open and send a second close."""
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
            before = len(ex.requests)
            halt = await desk.acli("halt", "--mode", "live")
            assert halt.returncode == 0 and "verified flat" in halt.stdout, halt
            assert ex.account.positions["BTCUSDT"].amount == 0
        after = list(ex.requests)[before:]
        closes = [r for r in after if r.method == "POST" and r.reduces]
        assert len(closes) == 1, [r.json() for r in closes]
        out = desk.output()
        assert "Verify attempt" not in out and "Traceback" not in out, out[-3000:]
        first = next(r for r in after if r.method == "DELETE")
        print(f"halt: first cancel -> close POST {1000 * (closes[0].at - first.at):.1f} ms")
    finally:
        await desk.stop()
        await ex.stop()


async def test_locked_journal_refuses_the_entry_with_one_line_and_nothing_dies(
        tmp_path, desk_keyring):
    """Another process holds the journal's write lock past the desk's busy timeout (5 s) as a
    signal comes: the entry is not sent (its intent cannot be written ahead), the log says
    why in words, and once the lock goes the desk trades again."""
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=Behaviour.binance())
    ex.behaviour.market_split = []
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            held = JournalHeld(desk.data_dir / "live.db")
            try:
                await ex.set_price("BTCUSDT", "60007")
                await desk.wait_for(lambda: "JOURNAL ERROR" in desk.output(), 15,
                                    "the journal's trouble said at once")
                await asyncio.sleep(0.5)
                assert ex.requests.order_posts() == []  # nothing reached the exchange
            finally:
                held.release()
            # the refusal is an explanation: told once it is on disk, with the lock gone
            await desk.wait_for(lambda: "could not record it first" in desk.output(), 30,
                                "the entry's refusal")
            out = desk.output()
            (line,) = [s for s in out.splitlines() if "could not record it first" in s]
            assert "locked by another process" in line, line
            assert "Traceback" not in out, out[-3000:]
            await desk.wait_for(lambda: "new entries allowed" in desk.output(), 30,
                                "the journal back")
            await ex.set_price("BTCUSDT", "60017")
            await desk.wait_for(lambda: _covered(ex), 20, "an entry once the lock is gone")
        rows = journal_rows(desk)
        assert sorted(r["status"] for r in rows.values() if r["role"] == "entry") == [
            "FILLED", "REJECTED"], rows
    finally:
        await desk.stop()
        await ex.stop()


async def test_kill_9_as_the_emergency_close_fills_restart_is_flat_halted_and_truthful(
        tmp_path, desk_keyring):
    """``tapedesk halt`` with a position; the desk is SIGKILLed the moment the exchange takes
    (and fills) the emergency close, before its answer. The restart finds the close its own:
    flat, the trade closed at the exchange's P&L, still halted, no difference."""
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=Behaviour.binance())
    ex.behaviour.market_split = []
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    killed_on: list[str] = []

    def kill_on_close(req) -> None:
        if not killed_on and req.params.get("type") == "MARKET" and req.reduces:
            killed_on.append(req.client_id)
            assert desk.proc is not None
            desk.proc.send_signal(signal.SIGKILL)

    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: _covered(ex), 20, "entry, stop and target")
            ex.order_hooks.append(kill_on_close)
            await desk.acli("halt", "--mode", "live")  # fails: the desk dies under it
            assert desk.proc is not None
            await asyncio.wait_for(desk.proc.wait(), 30)
        ex.order_hooks.clear()
        await desk_gone(ex)
        (cid,) = killed_on
        assert ex.account.positions["BTCUSDT"].amount == 0
        assert journal_rows(desk)[cid]["status"] == "PENDING"
        exchange_net = sum((D(t["realizedPnl"]) - D(t["commission"])
                            for t in ex.account.trades), D(0))
        posts = len(ex.requests.order_posts())
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream again")
        with Heartbeat(ex):
            await desk.wait_for(lambda: "Reconciled" in desk.output()
                                or DIFFERENCES.search(desk.output()), 20, "reconciliation")
            out = desk.output()
            assert not DIFFERENCES.search(out), out[-3000:]
            await desk.wait_for(lambda: desk.status_is(
                lambda st: st["position"] is None and st["halted"] is True), 10,
                "status flat and halted")
            (trade,) = await desk.ajson("trades")
            assert abs(D(trade["pnl"]) - exchange_net) < D("0.01"), (trade, exchange_net)
            await desk.wait_for(lambda: journal_rows(desk)[cid]["status"] == "FILLED", 10,
                                "the close's row FILLED")
            await ex.set_price("BTCUSDT", "60017")  # halted: no entry
            await asyncio.sleep(1.0)
            assert len(ex.requests.order_posts()) == posts
    finally:
        await desk.stop()
        await ex.stop()


async def test_answered_entry_whose_look_up_failed_is_not_booked_again_on_reconnect(
        tmp_path, desk_keyring):
    """The trader answers the failed look-up's differences (adopt the position, ignore the
    entry); when the exchange answers look-ups again and the user stream reconnects, the
    entry's old fill must not be booked on top of the adopted position."""
    ex, desk, cid = await _killed_as_the_entry_fills(tmp_path, desk_keyring)
    try:
        size = ex.account.positions["BTCUSDT"].amount
        fault = ex.inject(path="/fapi/v1/order", method="GET", status=502, times=10_000,
                          when=lambda p: p.get("origClientOrderId") == cid)
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream again")
        with Heartbeat(ex):
            await desk.wait_for(lambda: DIFFERENCES.search(desk.output()), 30, "differences")
            for key, action in (("position:BTCUSDT", "adopt"), (f"order:{cid}", "ignore")):
                done = await desk.acli("reconcile", "--mode", "live", key, action)
                assert done.returncode == 0, done.stderr
            await desk.wait_for(lambda: desk.status_is(
                lambda st: D(st["position"]["qty"]) == size), 10, "the adopted position")
            # Its row no longer claims to wait for the exchange's answer: the trader's is it.
            await desk.wait_for(lambda: journal_rows(desk)[cid]["status"] == "UNKNOWN", 10,
                                "the answered entry's row settled")
            assert "answered by the trader" in journal_rows(desk)[cid]["reason"]
            ex.faults.remove(fault)  # the exchange answers look-ups again
            await ex.drop_sockets("private")  # a reconnect: the desk resyncs its orders
            await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "reconnected")
            await asyncio.sleep(2.0)
            st = await desk.ajson("status")
            assert D(st["position"]["qty"]) == size == ex.account.positions["BTCUSDT"].amount, st
    finally:
        await desk.stop()
        await ex.stop()
