"""Run the desk the way a user does — ``tapedesk --live run --headless`` as a subprocess, the
symbol typed on stdin, API keys in a real gnome-keyring on a private D-Bus — against a local
exchange living in the test's own event loop (so the test moves prices and breaks things
while the desk runs, is killed, or restarts).

The desk trades through a plugin strategy (``attack_long``, written to the desk's config dir
as a user would): it goes long on a quote whose bid ends in 7 (60007, 60017, ...) when flat,
once per such price, with a stop ``stop_pct`` % below the ask and a target ``target_pct`` %
above. So a test decides when a trade happens by the price it sets.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

KEY = "attack-test-key-0123456789abcdef"
SECRET = "attack-test-secret-fedcba9876543210-NEVER-LOG"
FINAL = {"FILLED", "CANCELED", "REJECTED", "EXPIRED"}

STRATEGY = '''
from tapedesk import Signal, Side, Strategy, register


@register("attack_long")
class AttackLong(Strategy):
    """Long on a quote whose bid ends in 7, when flat, once per such price."""

    PARAMS = {"stop_pct": (float, 0.2, "stop distance %"),
              "target_pct": (float, 0.4, "target distance %")}

    def on_quote(self, quote):
        level = int(quote.bid)
        if level % 10 != 7 or level == getattr(self, "last_level", None):
            return None
        if self.ctx is not None and self.ctx.position(quote.symbol) is not None:
            return None
        self.last_level = level
        entry = quote.ask
        return Signal(self.name, quote.symbol, Side.LONG, quote.ts, entry,
                      stop_loss=entry * (1 - self.params["stop_pct"] / 100),
                      take_profit=entry * (1 + self.params["target_pct"] / 100),
                      reasons=[f"attack test: bid {quote.bid} ends in 7"])
'''


def tapedesk_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("tapedesk")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "tapedesk"]


@pytest.fixture(scope="session")
def desk_keyring(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A private Secret Service holding live keys for the local exchange; yields the
    environment a desk process needs to find them."""
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.skip(f"real Secret Service unavailable: {tool} not installed "
                        "(apt-get install dbus gnome-keyring)")
    from tests.keyring.conftest import start_secret_service

    running = start_secret_service(tmp_path_factory.mktemp("attack-keyring"))
    env = {k: v for k, v in running.session.env.items() if k != "PYTHON_KEYRING_BACKEND"}
    try:
        save = ("import os\nfrom tapedesk.engine.keys import Credentials, save_credentials\n"
                "save_credentials(Credentials(api_key=os.environ['TD_K'], "
                "api_secret=os.environ['TD_S'], environment='live'))")
        subprocess.run([sys.executable, "-c", save], env={**env, "TD_K": KEY, "TD_S": SECRET},
                       check=True, timeout=60)
        yield env
    finally:
        running.stop()


def write_config(root: Path, exchange: Any, risk: dict[str, Any] | None = None,
                 params: dict[str, float] | None = None) -> Path:
    """A user's config file and plugin folder under ``root``; returns the config path."""
    plugin_dir = root / "xdg-config" / "tapedesk" / "strategies"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    (plugin_dir / "attack_long.py").write_text(STRATEGY)
    lines = ['symbols = ["BTCUSDT"]', "", "[binance]", f'rest_url = "{exchange.rest_url}"',
             f'ws_url = "{exchange.ws_url}"', "", "[risk]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in (risk or {}).items()]
    lines += ["", "[[strategies]]", 'name = "attack_long"']
    if params:
        lines += ["[strategies.params]"] + [f"{k} = {v}" for k, v in params.items()]
    path = root / "tapedesk.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Desk:
    """One ``tapedesk --live run --headless`` process; start it again after ``kill9``."""

    def __init__(self, root: Path, config: Path, keyring_env: dict[str, str]) -> None:
        self.root = root
        self.config = config
        self.data_dir = root / "data"
        self.env = {**keyring_env, "XDG_CONFIG_HOME": str(root / "xdg-config"),
                    "TAPEDESK_HOME": str(self.data_dir), "NO_COLOR": "1"}
        self.proc: asyncio.subprocess.Process | None = None
        self.runs = 0
        self.out_path = root / "desk-0.out"

    async def start(self, typed: str = "BTCUSDT") -> None:
        self.runs += 1
        self.out_path = self.root / f"desk-{self.runs}.out"
        out = self.out_path.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            *tapedesk_cmd(), "--config", str(self.config), "--data-dir", str(self.data_dir),
            "--log-level", "INFO", "--live", "run", "--headless",
            stdin=asyncio.subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        out.close()
        assert self.proc.stdin is not None
        self.proc.stdin.write((typed + "\n").encode())
        await self.proc.stdin.drain()
        self.proc.stdin.close()

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") if self.out_path.exists() else ""

    def all_output(self) -> str:
        return "".join((self.root / f"desk-{i}.out").read_text(errors="replace")
                       for i in range(1, self.runs + 1)
                       if (self.root / f"desk-{i}.out").exists())

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait_for(self, pred: Callable[[], Any], timeout: float = 20.0,
                       what: str = "") -> None:
        """Poll ``pred`` (sync or async); fail at once, with the desk's output, if the desk
        died."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not await _truth(pred()):
            if not self.alive:
                raise AssertionError(f"the desk exited ({self.proc and self.proc.returncode}) "
                                     f"while waiting for {what}:\n{self.output()[-3000:]}")
            if loop.time() > end:
                raise AssertionError(f"timed out waiting for {what}:\n{self.output()[-3000:]}")
            await asyncio.sleep(0.05)

    async def exit_code(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                await self.kill9()

    # -- what the user can ask the desk afterwards ------------------------------------
    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another shell's ``tapedesk --data-dir D <args>`` (status, trades, halt, ...)."""
        return subprocess.run([*tapedesk_cmd(), "--data-dir", str(self.data_dir), *args],
                              env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=60)

    async def acli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``cli`` without blocking the exchange's event loop (halt waits for the desk)."""
        return await asyncio.to_thread(self.cli, *args)

    def cli_json(self, *args: str) -> Any:
        done = self.cli(*args, "--json", "--mode", "live")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    async def status_is(self, pred: Callable[[dict[str, Any]], bool]) -> bool:
        """For ``wait_for``: does ``tapedesk status --json`` satisfy ``pred`` yet? (The
        journal's checkpoint is written as the desk goes, so a read may lag a little.)"""
        try:
            return bool(pred(await self.ajson("status")))
        except (AssertionError, KeyError, TypeError):
            return False

    def assert_no_secret(self) -> None:
        """The API secret is in no file under the data dir and in nothing the desk printed."""
        for path in [p for p in self.data_dir.rglob("*") if p.is_file()]:
            assert SECRET.encode() not in path.read_bytes(), f"secret found in {path}"
        assert SECRET not in self.all_output()

    async def ajson(self, *args: str) -> Any:
        """``cli_json`` in a thread, so the exchange keeps answering the desk meanwhile."""
        return await asyncio.to_thread(self.cli_json, *args)

    def journal_open_orders(self) -> list[dict[str, Any]]:
        """Orders the journal holds as not final (read-only)."""
        with sqlite3.connect(f"file:{self.data_dir / 'live.db'}?mode=ro", uri=True) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM orders").fetchall()
        return [dict(r) for r in rows if r["status"].upper() not in FINAL]


async def _truth(value: Any) -> bool:
    return bool(await value) if inspect.isawaitable(value) else bool(value)


def stop_and_target_cover(exchange: Any, symbol: str = "BTCUSDT") -> tuple[Decimal, Decimal,
                                                                        Decimal]:
    """(position size, stop-covered size, target-covered size) on the exchange now."""
    from tests.local_exchange.protection import covered

    acct = exchange.account
    amt = acct.positions[symbol].amount
    algos = acct.open_algos(symbol)
    return (abs(amt), covered(amt, algos, "STOP_MARKET"),
            covered(amt, algos, "TAKE_PROFIT_MARKET"))


class Heartbeat:
    """Keeps market data fresh (the desk's risk gate refuses stale data): re-publishes the
    current price every ``every`` seconds while running."""

    def __init__(self, exchange: Any, symbol: str = "BTCUSDT", every: float = 0.5) -> None:
        self.exchange, self.symbol, self.every = exchange, symbol, every
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self.exchange.set_price(self.symbol, self.exchange.account.prices[self.symbol])

    def __enter__(self) -> Heartbeat:
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()
