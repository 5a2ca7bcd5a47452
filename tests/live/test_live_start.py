"""What a user runs: `tapedesk --live run --headless` as a subprocess against the local exchange,
keys in a real keyring (a private gnome-keyring; see tests/keyring/conftest.py), the symbol
typed on stdin. The exchange runs in this test's event loop, so its request log is read
directly: it shows what the desk sent, and when.

Where gnome-keyring/dbus are missing the tests fall back to a plain-file keyring backend
(tests/live/file_keyring.py, test-only, stated in the skip-free run's output as
``keyring: file backend``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tapedesk.engine.keys import Credentials, save_credentials

from tests.keyring.conftest import _missing_tools, start_secret_service
from tests.live.conftest import KEY, SECRET, wait_until
from tests.local_exchange import LocalExchange

REPO = Path(__file__).resolve().parents[2]
TAPEDESK = Path(sys.executable).parent / "tapedesk"
PROMPT = "Type BTCUSDT to trade with this account"
READY = "Live desk ready to trade BTCUSDT"


@dataclass
class Desk:
    env: dict[str, str]
    config: Path
    data: Path
    keyring: str

    def config_for(self, rest_url: str, ws_url: str, strategy: str = "ema_cross") -> Path:
        self.config.write_text(
            'symbols = ["BTCUSDT"]\n'
            "[binance]\n"
            f'rest_url = "{rest_url}"\n'
            f'ws_url = "{ws_url}"\n'
            "[[strategies]]\n"
            f'name = "{strategy}"\n'
        )
        return self.config

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            str(TAPEDESK), "--config", str(self.config), "--data-dir", str(self.data), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self.env, cwd=str(self.data))


@pytest.fixture(scope="module")
def keyring_env(tmp_path_factory) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A private Secret Service (real gnome-keyring) holding the test keys, or, without one,
    the test-only plain-file backend."""
    root = tmp_path_factory.mktemp("live-keyring")
    if _missing_tools() is None:
        running = start_secret_service(root)
        env = dict(running.session.env)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            os.environ.pop("PYTHON_KEYRING_BACKEND", None)
            save_credentials(Credentials(api_key=KEY, api_secret=SECRET, environment="live"),
                             backend=running.session.backend())
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        env.pop("PYTHON_KEYRING_BACKEND", None)
        yield "gnome-keyring", env
        running.stop()
        return
    from tests.live.file_keyring import PlainFileKeyring

    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "tests.live.file_keyring.PlainFileKeyring",
           "TD_FILE_KEYRING": str(root / "keys.json"), "PYTHONPATH": str(REPO)}
    PlainFileKeyring(root / "keys.json").set_password(
        "tapedesk", "live:default",
        Credentials(api_key=KEY, api_secret=SECRET, environment="live")._to_keyring())
    yield "file backend", env


@pytest.fixture
def desk(keyring_env, tmp_path) -> Desk:
    kind, env = keyring_env
    data = tmp_path / "data"
    data.mkdir()
    env = {**env, "PYTHONPATH": str(REPO), "TAPEDESK_HOME": str(data)}
    env.pop("PYTHONWARNINGS", None)
    return Desk(env, tmp_path / "config.toml", data, kind)


@pytest.fixture
async def exchange() -> AsyncIterator[LocalExchange]:
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    yield ex
    await ex.stop()


async def read_until(stream: asyncio.StreamReader, text: str, seen: list[str],
                     timeout: float = 30.0) -> str:
    """Read (chunks, not lines: a prompt has no newline) until ``text`` appears."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while text not in "".join(seen):
        left = end - loop.time()
        if left <= 0:
            raise AssertionError(f"never saw {text!r}; output so far:\n{''.join(seen)}")
        with contextlib.suppress(TimeoutError):
            chunk = await asyncio.wait_for(stream.read(4096), min(left, 1.0))
            if not chunk:
                raise AssertionError(f"output ended before {text!r}:\n{''.join(seen)}")
            seen.append(chunk.decode())
    return "".join(seen)


def posts(exchange: LocalExchange) -> list[str]:
    return [f"{m} {p}" for m, p, _ in exchange.requests if m != "GET"]


def assert_clean(stderr: str) -> None:
    for bad in ("Traceback", "Unclosed", "Event loop is closed", "Task was destroyed"):
        assert bad not in stderr, f"{bad!r} on stderr:\n{stderr}"


async def test_headless_live_session_starts_on_one_loop_and_stops_clean(desk, exchange):
    desk.config_for(exchange.rest_url, exchange.ws_url)
    proc = await desk.start("--live", "run", "--headless")
    out: list[str] = []
    try:
        text = await read_until(proc.stdout, PROMPT, out)
        assert "wallet 10,000.00 USDT" in text and "position mode one-way" in text
        assert posts(exchange) == [], "something was sent before the symbol was typed"
        proc.stdin.write(b"btcusdt\n")
        await proc.stdin.drain()
        await read_until(proc.stdout, READY, out)
        pos = exchange.account.positions["BTCUSDT"]
        assert (pos.margin_type, pos.leverage) == ("ISOLATED", 5)
        # one listenKey, one user socket: venue.start() ran once
        assert exchange.count("POST", "/fapi/v1/listenKey") == 1
        assert sum(1 for s in exchange.socks if s.kind == "private") == 1
        assert posts(exchange) == ["POST /fapi/v1/marginType", "POST /fapi/v1/leverage",
                                   "POST /fapi/v1/listenKey"]
        assert not any("@depth" in st for sock in exchange.socks for st in sock.streams)
        proc.send_signal(signal.SIGINT)
        rest, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stdout = "".join(out) + rest.decode()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{stdout}\n{err.decode()}"
    assert "account set up: BTCUSDT margin CROSSED → ISOLATED; BTCUSDT leverage" in stdout
    assert "Interrupted: journal flushed." in stdout and "Summary (live" in stdout
    assert_clean(err.decode())
    assert SECRET not in stdout + err.decode()


async def test_live_desk_with_book_imbalance_keeps_a_depth_book(desk, exchange):
    """book_imbalance reads the book: the live desk subscribes to diff depth and fetches the
    REST snapshot; without such a strategy (the test above) it does not."""
    exchange.depth_snapshots["BTCUSDT"] = {
        "lastUpdateId": 10, "E": 1, "T": 1, "bids": [["60000.0", "1"]], "asks": [["60000.1", "1"]]}
    desk.config_for(exchange.rest_url, exchange.ws_url, strategy="book_imbalance")
    proc = await desk.start("--live", "run", "--headless")
    out: list[str] = []
    try:
        await read_until(proc.stdout, PROMPT, out)
        proc.stdin.write(b"BTCUSDT\n")
        await proc.stdin.drain()
        await read_until(proc.stdout, READY, out)
        await wait_until(lambda: exchange.count("GET", "/fapi/v1/depth") == 1, 15,
                         "the depth snapshot request")
        assert any("btcusdt@depth@100ms" in s.streams for s in exchange.socks)
        await exchange.publish_depth("BTCUSDT", 9, 12, 8, [("60000.0", "2")], [])
        await exchange.publish_depth("BTCUSDT", 20, 21, 19, [], [])  # a gap: pu 19 != u 12
        await wait_until(lambda: exchange.count("GET", "/fapi/v1/depth") >= 2, 15,
                         "a new snapshot after the gap")
        proc.send_signal(signal.SIGINT)
        _rest, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert_clean(err.decode())


async def test_open_position_keeps_its_leverage_on_restart(desk, exchange):
    """A 2x isolated position is open when the desk starts: its leverage is kept, nothing is
    sent to change it, and the summary says so before the confirmation."""
    acct = exchange.account
    acct.positions["BTCUSDT"].margin_type = "ISOLATED"
    acct.set_leverage("BTCUSDT", 2)
    acct.new_order({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010",
                    "newClientOrderId": "manual-1"})
    assert acct.positions["BTCUSDT"].amount
    desk.config_for(exchange.rest_url, exchange.ws_url)
    proc = await desk.start("--live", "run", "--headless")
    out: list[str] = []
    try:
        text = await read_until(proc.stdout, PROMPT, out)
        assert "leverage 2x kept" in text
        proc.stdin.write(b"BTCUSDT\n")
        await proc.stdin.drain()
        await read_until(proc.stdout, "account set up: nothing to change", out)
        assert exchange.count("POST", "/fapi/v1/leverage") == 0
        assert exchange.count("POST", "/fapi/v1/marginType") == 0
        assert acct.positions["BTCUSDT"].leverage == 2
        proc.send_signal(signal.SIGINT)
        _rest, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert_clean(err.decode())


@pytest.mark.parametrize(("setting", "words"), [
    ("dual_side", "switch Position Mode to One-way in Binance → Futures → Preferences"),
    ("multi_assets", "switch to Single-Asset Mode in Binance → Futures → Preferences"),
])
async def test_hedge_or_multi_assets_refused_before_confirmation(desk, exchange, setting, words):
    setattr(exchange.account, setting, True)
    desk.config_for(exchange.rest_url, exchange.ws_url)
    proc = await desk.start("--live", "run", "--headless")
    out, err = await asyncio.wait_for(proc.communicate(b"BTCUSDT\n"), 30)
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tapedesk: ") and words in lines[0], lines
    assert "nothing was sent" in lines[0]
    assert "Type BTCUSDT" not in out.decode()
    assert posts(exchange) == []
    assert exchange.account.positions["BTCUSDT"].margin_type == "CROSSED"


async def test_no_network_is_one_line_no_traceback_no_unclosed_session(desk):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    desk.config_for(f"http://127.0.0.1:{port}/fapi", f"ws://127.0.0.1:{port}/")
    proc = await desk.start("--live", "run", "--headless")
    out, err = await asyncio.wait_for(proc.communicate(b"BTCUSDT\n"), 60)
    assert proc.returncode == 2
    assert "Type BTCUSDT" not in out.decode()
    text = err.decode()
    assert text.strip().splitlines() == [
        f"tapedesk: cannot reach Binance at http://127.0.0.1:{port}/fapi "
        "(ClientConnectorError): nothing was sent to the account"], text
    assert_clean(text)


async def test_sigint_during_the_checks_exits_quietly(desk, exchange):
    """Ctrl-C while a check waits for Binance (it lands in the event loop, not at the prompt):
    exit 130, nothing sent, and the HTTP session closed (no "Unclosed client session")."""
    exchange.inject(path="/fapi/v1/exchangeInfo", method="GET", delay=4.0)
    desk.config_for(exchange.rest_url, exchange.ws_url)
    proc = await desk.start("--live", "run", "--headless")
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + 30
        while exchange.count("GET", "/fapi/v1/exchangeInfo") == 0 and loop.time() < end:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130, (out, err)
    assert_clean(err.decode())
    assert posts(exchange) == []


async def test_wrong_symbol_typed_sends_nothing(desk, exchange):
    desk.config_for(exchange.rest_url, exchange.ws_url)
    proc = await desk.start("--live", "run", "--headless")
    _out, err = await asyncio.wait_for(proc.communicate(b"ETHUSDT\n"), 30)
    assert proc.returncode == 2
    assert err.decode().strip().splitlines() == [
        "tapedesk: not confirmed: nothing was sent to the exchange"]
    assert posts(exchange) == []


async def _tmux(tmux: list[str], *args: str) -> str:
    import subprocess

    out = await asyncio.to_thread(subprocess.run, [*tmux, *args], capture_output=True,
                                  text=True, check=False)
    return out.stdout


async def _pane_until(tmux: list[str], name: str, text: str, timeout: float = 60.0) -> str:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    pane = ""
    while loop.time() < end:
        pane = await _tmux(tmux, "capture-pane", "-p", "-t", name)
        if text in pane:
            return pane
        await asyncio.sleep(0.25)
    raise AssertionError(f"never saw {text!r} in the pane:\n{pane}")


def _tmux_desk(desk: Desk, tmp_path: Path) -> tuple[list[str], str, str]:
    import shlex
    import shutil
    import uuid

    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (apt-get install tmux)")
    name = f"tapedesk-live-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-S", str(tmp_path / "tmux.sock")]
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in desk.env.items()
                       if k in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR",
                                "DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND",
                                "TD_FILE_KEYRING", "PYTHONPATH", "TAPEDESK_HOME"))
    inner = (f"cd {shlex.quote(str(desk.data))} && env {exports} TERM=xterm-256color "
             f"{shlex.quote(str(TAPEDESK))} --config {shlex.quote(str(desk.config))} "
             f"--data-dir {shlex.quote(str(desk.data))} --live 2>&1; "
             "echo DESK-EXITED=$?; sleep 60")
    return tmux, name, inner


@pytest.mark.e2e
async def test_ctrl_c_at_the_prompt_quits_quietly_with_nothing_sent(desk, exchange, tmp_path):
    desk.config_for(exchange.rest_url, exchange.ws_url)
    tmux, name, inner = _tmux_desk(desk, tmp_path)
    await _tmux(tmux, "new-session", "-d", "-s", name, "-x", "110", "-y", "32", inner)
    try:
        await _pane_until(tmux, name, PROMPT)
        await _tmux(tmux, "send-keys", "-t", name, "C-c")
        pane = await _pane_until(tmux, name, "DESK-EXITED=", 30)
        assert "DESK-EXITED=130" in pane, pane
        for bad in ("Traceback", "Unclosed", "Event loop is closed"):
            assert bad not in pane, pane
        assert posts(exchange) == []
    finally:
        await _tmux(tmux, "kill-server")


@pytest.mark.e2e
async def test_live_desk_in_tmux_reaches_the_desk_with_live_in_the_header(desk, exchange,
                                                                          tmp_path):
    """`tapedesk --live` in a real terminal: the summary and prompt in the plain terminal,
    the symbol typed, then the Textual desk on the same event loop with LIVE in the header;
    q quits cleanly (exit 0, no traceback, no unclosed session)."""
    desk.config_for(exchange.rest_url, exchange.ws_url)
    tmux, name, inner = _tmux_desk(desk, tmp_path)
    await _tmux(tmux, "new-session", "-d", "-s", name, "-x", "110", "-y", "32", inner)
    try:
        pane = await _pane_until(tmux, name, PROMPT)
        assert posts(exchange) == []
        await _tmux(tmux, "send-keys", "-t", name, "BTCUSDT", "Enter")
        pane = await _pane_until(tmux, name, "E-STOP")  # the desk's footer: the app is up
        pane = await _pane_until(tmux, name, "LIVE")
        header = "\n".join(pane.splitlines()[:3])
        assert "LIVE" in header and "PAPER" not in header, pane
        await wait_until(lambda: any(s.kind == "private" for s in exchange.socks), 30,
                         "the desk's user-data stream")
        await exchange.set_price("BTCUSDT", "60010")
        await _pane_until(tmux, name, "● live")
        assert exchange.count("POST", "/fapi/v1/listenKey") == 1
        assert sum(1 for s in exchange.socks if s.kind == "private") == 1
        assert exchange.account.positions["BTCUSDT"].margin_type == "ISOLATED"
        await _tmux(tmux, "send-keys", "-t", name, "q")
        pane = await _pane_until(tmux, name, "DESK-EXITED=", 60)
        assert "DESK-EXITED=0" in pane, pane
        for bad in ("Traceback", "Unclosed", "Event loop is closed"):
            assert bad not in pane, pane
    finally:
        await _tmux(tmux, "kill-server")


async def test_keys_the_exchange_refuses_are_one_line(desk):
    """The keyring holds keys this exchange does not accept (its secret differs): one line
    naming the problem, nothing sent, no traceback."""
    other = LocalExchange(api_key=KEY, api_secret="a-different-secret-0123456789")
    await other.start()
    try:
        desk.config_for(other.rest_url, other.ws_url)
        proc = await desk.start("--live", "run", "--headless")
        _out, err = await asyncio.wait_for(proc.communicate(b"BTCUSDT\n"), 30)
    finally:
        await other.stop()
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "signature was rejected" in lines[0], lines
    assert "nothing was sent" in lines[0]
    assert posts(other) == []
    assert SECRET not in err.decode()
