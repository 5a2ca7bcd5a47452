"""/ws/live against the real desk: engine events arrive as committed (explanations, fills,
trades), and a client that never reads is dropped while the others and the engine go on."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sqlite3

import aiohttp
from tapedesk.engine.api import live

from tests.api.conftest import run_until


async def test_live_streams_the_engines_committed_events(desk) -> None:
    eng = desk.engine
    trades_before = len(eng.trades)
    async with aiohttp.ClientSession(headers=desk.auth()) as s, s.ws_connect(
            f"{desk.url}/ws/live") as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "snapshot"
        assert first["data"]["positions"]["BTCUSDT"]["qty"] == str(
            eng.book.positions["BTCUSDT"].qty)
        with sqlite3.connect(eng.journal.path) as conn:
            (last_id,) = conn.execute("SELECT max(id) FROM explanations").fetchone()
        await run_until(eng, lambda e: len(e.trades) > trades_before)
        got: list[dict] = []
        while not any(m["type"] == "trade" for m in got):
            msg = await ws.receive_json(timeout=5)
            if msg["type"] != "snapshot":
                got.append(msg)
    with sqlite3.connect(eng.journal.path) as conn:
        journaled = [t for (t,) in conn.execute(
            "SELECT text FROM explanations WHERE id > ? ORDER BY id", (last_id,))]
    texts = [m["data"]["text"] for m in got if m["type"] == "explanation"]
    assert texts and texts == journaled[: len(texts)]  # in order, nothing before its commit
    assert any(m["type"] == "fill" for m in got)
    trade = next(m["data"] for m in got if m["type"] == "trade")
    assert trade["pnl"] == str(eng.trades[trades_before].pnl)


async def _raw_client_never_reading(host: str, port: int, token: str):
    """A websocket handshake over a socket with a tiny receive buffer; then silence."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws/live HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head[:80]
    return reader, writer


async def test_a_client_that_never_reads_is_dropped_not_the_others(desk, monkeypatch) -> None:
    monkeypatch.setattr(live, "CLIENT_BUFFER", 256 * 1024)
    monkeypatch.setattr(live, "FLUSH_S", 0)
    hub = desk.server.hub
    slow_reader, slow_writer = await _raw_client_never_reading(
        "127.0.0.1", desk.server.port, desk.token)
    received = 0
    arrived = asyncio.Event()
    big = "x" * 65_536
    async with aiohttp.ClientSession(headers=desk.auth()) as s, s.ws_connect(
            f"{desk.url}/ws/live", max_msg_size=1 << 20) as ws:

        async def read() -> None:
            nonlocal received
            async for msg in ws:
                if msg.data.startswith('"x'):
                    received += 1
                    arrived.set()

        reading = asyncio.ensure_future(read())
        while len(hub.clients) < 2:
            await asyncio.sleep(0.01)
        sent = 0
        while hub.dropped_clients == 0 and sent < 2000:  # ≤ 128 MB: far past any buffer
            hub.broadcast(f'"{big}"')
            sent += 1
            while received < sent:  # paced by the client that reads
                arrived.clear()
                await asyncio.wait_for(arrived.wait(), 5)
        assert hub.dropped_clients == 1, f"the silent client was never dropped ({sent})"
        assert len(hub.clients) == 1
        for _ in range(3):  # the reading client is still served
            hub.broadcast(f'"{big}"')
            sent += 1
        while received < sent:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 5)
        reading.cancel()
    # the dropped connection was aborted by the desk: the silent client sees its end
    try:
        while await asyncio.wait_for(slow_reader.read(1 << 20), 5):
            pass
    except ConnectionResetError:
        pass
    slow_writer.close()
    # and the engine never waited for it: it trades on
    before = len(desk.engine.trades)
    await run_until(desk.engine, lambda e: len(e.trades) > before)
    assert "tapedesk_ws_dropped_clients_total 1\n" in (await desk.call("/metrics"))[1]

