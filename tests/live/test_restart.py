"""kill -9 of a live session with an open position and its stops; restart; reconcile."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from tapedesk.engine.binance.endpoints import resolve
from tapedesk.engine.binance.rest import RestGate, make_client
from tapedesk.engine.binance.venue import BinanceVenue, LiveSettings
from tapedesk.engine.events import Fill, Liquidity, OrderIntent, OrderRole, OrderStatus, OrderType
from tapedesk.engine.positions import PositionBook
from tapedesk.engine.reconcile import Action, Reconciliation, compare

from tests.live.conftest import KEY, SECRET, RecordingSink, wait_until

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


def journal_state(path: Path) -> tuple[dict, list[OrderIntent]]:
    """The desk's picture from its journal: positions from fills, open orders from intents
    whose last status is not final (what the engine journal provides)."""
    intents, status, book = {}, {}, PositionBook()
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec["kind"] == "intent":
            intents[rec["client_id"]] = OrderIntent(
                rec["client_id"], rec["symbol"], rec["side"], OrderType(rec["type"]),
                D(rec["qty"]), OrderRole(rec["role"]), 0,
                price=D(rec["price"]) if rec["price"] else None,
                stop_price=D(rec["stop_price"]) if rec["stop_price"] else None,
                reduce_only=rec["reduce_only"])
        elif rec["kind"] == "update":
            status[rec["client_id"]] = rec["status"]
        elif rec["kind"] == "fill":
            book.apply(Fill(rec["client_id"], rec["symbol"], rec["side"], D(rec["qty"]),
                            D(rec["price"]), D(rec["fee"]), rec["ts"], Liquidity.TAKER,
                            OrderRole(rec["role"]), rec["seq"], rec["trade_id"]), 5)
    final = {s.value for s in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED,
                                OrderStatus.EXPIRED)}
    open_orders = [i for cid, i in intents.items() if status.get(cid) not in final]
    return dict(book.positions), open_orders


async def _wait_file(path: Path, timeout: float = 20) -> str:
    for _ in range(int(timeout / 0.05)):
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


@pytest.fixture
async def exchange_process(tmp_path):
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.local_exchange", "--port-file",
                             str(port_file), "--key", KEY, "--secret", SECRET], cwd=ROOT, env=env)
    try:
        port = int(await _wait_file(port_file))
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _state(port: int) -> dict:
    async with aiohttp.ClientSession() as s, s.get(
            f"http://127.0.0.1:{port}/_control/state") as r:
        return await r.json()


async def _price(port: int, price: str) -> None:
    async with aiohttp.ClientSession() as s, s.post(
            f"http://127.0.0.1:{port}/_control/price",
            json={"symbol": "BTCUSDT", "price": price}) as r:
        assert r.status == 200


async def test_kill_9_then_restart_reconciles_and_duplicates_nothing(exchange_process, tmp_path):
    port = exchange_process
    rest, ws = f"http://127.0.0.1:{port}/fapi", f"ws://127.0.0.1:{port}/"
    journal = tmp_path / "journal.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TD_TEST_KEY": KEY, "TD_TEST_SECRET": SECRET}
    runner = subprocess.Popen([sys.executable, "-m", "tests.live.live_runner", rest, ws,
                               str(journal)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              text=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(runner.stdout.readline), 30)
        assert line.strip() == "READY"
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
    before = await _state(port)
    assert D(before["positions"][0]["positionAmt"]) == D("0.003")
    assert len(before["algos"]) == 2 and before["order_posts"] == 1

    # restart: a new process would do exactly this
    ep = resolve(rest_url=rest, ws_url=ws)
    client = make_client(ep, KEY, SECRET, timeout_s=2)
    venue = BinanceVenue(RestGate(client), ep, ["BTCUSDT"], LiveSettings(lookup_delay=0.05))
    sink = RecordingSink()
    venue.bind(sink)
    await venue.start()
    try:
        positions, open_orders = journal_state(journal)
        rec = await Reconciliation.with_venue(venue, positions, open_orders)
        assert rec.differences == [] and not rec.blocked, rec.describe()
        venue.track(rec.exchange_orders)
        after = await _state(port)
        assert (after["order_posts"], after["algo_posts"]) == (1, 2)  # nothing re-sent
        await wait_until(lambda: venue.user_stream.connects >= 1)
        await _price(port, "59800")  # the stop placed before the kill still protects
        await wait_until(lambda: any(f.role is OrderRole.STOP for f in sink.fills),
                         what="stop fill reported to the restarted desk")
        final = await _state(port)
        assert final["positions"] == [] and len(final["algos"]) == 1
    finally:
        await venue.close()
        await client.close_connection()


async def test_differences_block_until_each_is_answered(exchange, venue, sink):
    from tapedesk.engine.binance.venue import client_order_id

    cid = client_order_id("r9", OrderRole.ENTRY)
    venue.submit(OrderIntent(cid, "BTCUSDT", "BUY", OrderType.MARKET, D("0.002"),
                             OrderRole.ENTRY, 0))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    # someone placed an order by hand while the desk was down; the journal knows none of it
    exchange.account.new_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                "quantity": "0.002", "price": "55000",
                                "newClientOrderId": "web_manual1"})
    rec = await Reconciliation.with_venue(venue, {}, [])
    keys = [d.key for d in rec.differences]
    assert keys == ["position:BTCUSDT", "order:web_manual1"]
    assert rec.blocked and "will not trade" in rec.describe()
    text = await rec.resolve("order:web_manual1", Action.FLATTEN, venue)
    assert "canceled web_manual1" in text and not exchange.account.open_orders()
    assert rec.blocked
    text = await rec.resolve("position:BTCUSDT", Action.ADOPT, venue)
    assert "no stop-loss protects" in text
    assert not rec.blocked


async def test_flatten_answer_closes_the_position(exchange, venue, sink):
    from tapedesk.engine.binance.venue import client_order_id

    cid = client_order_id("r8", OrderRole.ENTRY)
    venue.submit(OrderIntent(cid, "BTCUSDT", "BUY", OrderType.MARKET, D("0.002"),
                             OrderRole.ENTRY, 0))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    rec = await Reconciliation.with_venue(venue, {}, [])
    await rec.resolve("position:BTCUSDT", Action.FLATTEN, venue)
    assert exchange.account.positions["BTCUSDT"].amount == 0
    assert not rec.blocked


def test_compare_reports_size_mismatch_and_missing_stop():
    from tapedesk.engine.events import Position, Side

    ex = {"BTCUSDT": Position("BTCUSDT", Side.LONG, D("0.003"), D("60000"), 5, 0)}
    jr = {"BTCUSDT": Position("BTCUSDT", Side.LONG, D("0.002"), D("60000"), 5, 0)}
    stop = OrderIntent("td-a-s", "BTCUSDT", "SELL", OrderType.STOP_MARKET, D("0.003"),
                       OrderRole.STOP, 0, stop_price=D("59000"), reduce_only=True)
    diffs = compare(ex, [], jr, [stop])
    assert [d.key for d in diffs] == ["position:BTCUSDT", "order:td-a-s"]
    assert "0.003" in diffs[0].text and "0.002" in diffs[0].text
    assert "no such open order" in diffs[1].text
    assert compare(ex, [stop], ex, [stop]) == []


async def test_kill_9_then_the_stop_fills_while_down_then_restart_reports_it_once(
        exchange_process, tmp_path):
    port = exchange_process
    rest, ws = f"http://127.0.0.1:{port}/fapi", f"ws://127.0.0.1:{port}/"
    journal = tmp_path / "journal.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TD_TEST_KEY": KEY, "TD_TEST_SECRET": SECRET}
    runner = subprocess.Popen([sys.executable, "-m", "tests.live.live_runner", rest, ws,
                               str(journal)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              text=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(runner.stdout.readline), 30)
        assert line.strip() == "READY"
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
    await _price(port, "59800")  # nobody is listening: the stop triggers and fills
    down = await _state(port)
    assert down["positions"] == []

    ep = resolve(rest_url=rest, ws_url=ws)
    client = make_client(ep, KEY, SECRET, timeout_s=2)
    venue = BinanceVenue(RestGate(client), ep, ["BTCUSDT"], LiveSettings(
        lookup_delay=0.05, catch_up_wait_s=0.05))
    sink = RecordingSink()
    venue.bind(sink)
    await venue.start()
    try:
        positions, open_orders = journal_state(journal)
        assert positions["BTCUSDT"].qty == D("0.003")  # the journal still thinks long
        venue.track(open_orders)
        stop_id = next(o.client_id for o in open_orders if o.role is OrderRole.STOP)
        await wait_until(lambda: sink.statuses(stop_id)[-1:] == ["FILLED"], timeout=10,
                         what="the stop's fill fetched after the restart")
        stop_fills = [f for f in sink.fills if f.role is OrderRole.STOP]
        assert sum(f.qty for f in stop_fills) == D("0.003")
        assert all(f.client_id == stop_id and f.side == "SELL" and f.trade_id
                   for f in stop_fills)
        assert all(f.fee > 0 and f.price < D("59850") for f in stop_fills)
        book = PositionBook()
        for rec_fill in [*_journal_fills(journal), *stop_fills]:
            book.apply(rec_fill, 5)
        assert "BTCUSDT" not in book.positions  # journal + fetched fills = the exchange: flat
        await venue.resync()  # a reconnect later: nothing twice
        assert len([f for f in sink.fills if f.role is OrderRole.STOP]) == len(stop_fills)
    finally:
        await venue.close()
        await client.close_connection()


def _journal_fills(path: Path) -> list[Fill]:
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec["kind"] == "fill":
            out.append(Fill(rec["client_id"], rec["symbol"], rec["side"], D(rec["qty"]),
                            D(rec["price"]), D(rec["fee"]), rec["ts"], Liquidity.TAKER,
                            OrderRole(rec["role"]), rec["seq"], rec["trade_id"]))
    return out
