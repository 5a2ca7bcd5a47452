"""Attacks on starting and stopping a served desk: the port taken, a public host, no
keyring, and a stop (SIGTERM) while slow-loris connections and silent websockets hang on;
and /ws/live under churn, garbage frames and clients that never read."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.attacks_api.conftest import start_serve, td, write_config
from tests.engine.helpers import write_sample_csv

pytestmark = pytest.mark.keyring


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_csv(tmp_path_factory.mktemp("serve-data") / "btc_1m.csv", days=1)


@pytest.fixture
def taken_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _one_clean_line(text: str) -> None:
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text


def test_serve_on_a_taken_port_is_one_line_and_exit_2(keyring_env, tmp_path, data,
                                                      taken_port) -> None:
    r = td(keyring_env, "--data-dir", str(tmp_path / "d"), "serve", "--replay", str(data),
           "--port", str(taken_port))
    assert r.returncode == 2
    _one_clean_line(r.stderr)
    assert f"cannot listen on 127.0.0.1:{taken_port}: Address already in use" in r.stderr


def test_enabled_api_on_a_taken_port_the_desk_trades_on(keyring_env, tmp_path, data,
                                                       taken_port) -> None:
    cfg = write_config(tmp_path / "c.toml", enabled=True, port=taken_port)
    r = td(keyring_env, "--config", str(cfg), "--data-dir", str(tmp_path / "d"), "run",
           "--headless", "--replay", str(data), "--speed", "0")
    assert r.returncode == 0, r.stderr
    assert "address already in use" in (r.stdout + r.stderr).lower()
    assert "Traceback" not in r.stdout + r.stderr
    trades = td(keyring_env, "--data-dir", str(tmp_path / "d"), "trades", "--json")
    assert trades.returncode == 0 and trades.stdout.strip() not in ("", "[]")


def test_no_keyring_serve_refuses_and_an_enabled_desk_trades_on(keyring_env, tmp_path,
                                                                data) -> None:
    env = {**keyring_env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    r = td(env, "--data-dir", str(tmp_path / "d"), "serve", "--replay", str(data), "--port", "0")
    assert r.returncode == 2
    _one_clean_line(r.stderr)
    assert "keyring" in r.stderr
    cfg = write_config(tmp_path / "c.toml", enabled=True, port=0)
    r = td(env, "--config", str(cfg), "--data-dir", str(tmp_path / "d2"), "run", "--headless",
           "--replay", str(data), "--speed", "0")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert "api did not start" in r.stdout + r.stderr


def test_a_public_host_is_warned_about(keyring_env, tmp_path, data) -> None:
    proc, url = start_serve(keyring_env, tmp_path / "d", data, tmp_path / "out", "--host",
                            "0.0.0.0")
    try:
        out = (tmp_path / "out").read_text()
        assert url.startswith("http://0.0.0.0:")
        assert "beyond this machine" in out and "token" in out, out[-2000:]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    quiet, _ = start_serve(keyring_env, tmp_path / "d2", data, tmp_path / "out2")
    quiet.send_signal(signal.SIGINT)
    quiet.wait(timeout=30)
    assert "beyond this machine" not in (tmp_path / "out2").read_text()


UPGRADE = ("GET /ws/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Authorization: Bearer {t}\r\n\r\n")


def test_websocket_churn_garbage_silence_and_sigterm_with_slow_loris(
        keyring_env, tmp_path, data) -> None:
    """200 connect/close cycles, a client sending random bytes, 5 that never read, 50
    half-sent requests: a reading client keeps getting events, and SIGTERM still stops the
    desk promptly with its journal flushed."""
    import aiohttp

    token = td(keyring_env, "api", "token").stdout.strip()
    proc, url = start_serve(keyring_env, tmp_path / "d", data, tmp_path / "out", "--loop", speed="0")
    port = int(url.rsplit(":", 1)[1])
    held: list[socket.socket] = []

    def conn(first: bytes, rcvbuf: int | None = None) -> socket.socket:
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.connect(("127.0.0.1", port))
        s.sendall(first)
        held.append(s)
        return s

    async def attack() -> tuple[dict[str, int], float]:
        for _ in range(50):
            conn(b"GET /api/status HTTP/1.1\r\nHost: x\r\n")  # never finished
        for _ in range(5):
            conn(UPGRADE.format(t=token).encode(), rcvbuf=4096)  # never read
        garbage = conn(UPGRADE.format(t=token).encode())
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as s:
            for _ in range(200):
                ws = await s.ws_connect(url + "/ws/live")
                await ws.close()
            garbage.sendall(os.urandom(4096))
            ws = await s.ws_connect(url + "/ws/live")
            await ws.send_str("x" * 10_000)  # over max_msg_size: ignored or dropped, not fatal
            kinds: dict[str, int] = {}
            async with aiohttp.ClientSession(headers=headers) as s2:
                reader = await s2.ws_connect(url + "/ws/live")
                end = time.monotonic() + 2
                while time.monotonic() < end:
                    msg = await reader.receive(timeout=5)
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        kind = msg.json()["type"]
                        kinds[kind] = kinds.get(kind, 0) + 1
                async with s2.get(url + "/api/status") as r:
                    assert r.status == 200
                t0 = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                closed = await reader.receive(timeout=10)
                assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                       aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.TEXT)
                await asyncio.to_thread(proc.wait, 30)
                return kinds, time.monotonic() - t0

    try:
        kinds, stop_s = asyncio.run(attack())
    finally:
        for s in held:
            s.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = (tmp_path / "out").read_text()
    assert kinds.get("snapshot", 0) >= 1 and kinds.get("explanation", 0) >= 1, kinds
    assert proc.returncode == 0, out[-2000:]
    assert stop_s < 10, f"the desk took {stop_s:.1f} s to stop"
    assert "Traceback" not in out and token not in out
