"""Attack through the TUI the trader watches: ``tapedesk --live`` in a real tmux pane, the
symbol typed at the prompt, keys in a real keyring, against the local exchange.

The Algo service answers 503 to every conditional order (before applying it), so the entry
fills and no stop can be placed. While the position has no exchange-side stop the header must
say UNPROTECTED and ``status --json`` must list the symbol; after ``risk.unprotected_grace_s``
the desk flattens it reduce-only and the pane says so (issue 8: "No position without a stop,
ever silently").
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import subprocess
import uuid
from decimal import Decimal

import pytest

from tests.local_exchange import LocalExchange
from tests.local_exchange.desk import KEY, SECRET, Heartbeat, desk_keyring, tapedesk_cmd
from tests.local_exchange.desk import write_config as write_desk_config

__all__ = ["desk_keyring"]
D = Decimal
GRACE_S = 4.0
pytestmark = [pytest.mark.e2e, pytest.mark.keyring]


class Pane:
    def __init__(self, tmp_path) -> None:
        self.tmux = ["tmux", "-S", str(tmp_path / "tmux.sock")]
        self.name = f"attack-{uuid.uuid4().hex[:8]}"

    def start(self, command: str) -> None:
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.name, "-x", "100", "-y",
                        "30", command], check=True)

    async def text(self) -> str:
        done = await asyncio.to_thread(
            subprocess.run, [*self.tmux, "capture-pane", "-p", "-t", self.name],
            capture_output=True, text=True, check=False)
        return done.stdout

    async def keys(self, *keys: str) -> None:
        await asyncio.to_thread(subprocess.run, [*self.tmux, "send-keys", "-t", self.name,
                                                 *keys], check=True)

    async def wait(self, pred, what: str, timeout: float = 30.0) -> str:
        end = asyncio.get_running_loop().time() + timeout
        while True:
            text = await self.text()
            if pred(text):
                return text
            if "DESK-EXITED" in text or asyncio.get_running_loop().time() > end:
                raise AssertionError(f"waiting for {what}:\n{text}")
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], check=False, capture_output=True)


async def test_tui_shows_unprotected_then_flattens(tmp_path, desk_keyring):
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (apt-get install tmux)")
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    config = write_desk_config(tmp_path, ex, risk={"unprotected_grace_s": GRACE_S})
    env = {**desk_keyring, "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
           "TAPEDESK_HOME": str(tmp_path / "data"), "TERM": "xterm-256color"}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    desk = shlex.join([*tapedesk_cmd(), "--config", str(config), "--live"])
    pane = Pane(tmp_path)
    pane.start(f"env {exports} {desk}; echo DESK-EXITED=$?; sleep 30")
    try:
        await pane.wait(lambda t: "Type BTCUSDT" in t, "the confirmation prompt")
        await pane.keys("BTCUSDT", "Enter")
        await pane.wait(lambda t: "LIVE" in t, "the live desk on screen")
        await _until(lambda: ex.private_connected() >= 1, "the user stream")
        algo_down = ex.inject(path="/fapi/v1/algoOrder", method="POST", status=503,
                              times=10_000)
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await _until(lambda: ex.account.positions["BTCUSDT"].amount > 0, "the entry")
            await pane.wait(lambda t: "UNPROTECTED" in _header(t), "UNPROTECTED in the header",
                            GRACE_S)
            await _status_lists_unprotected(env, GRACE_S)
            await _until(lambda: ex.account.positions["BTCUSDT"].amount == 0, "flattened",
                         GRACE_S + 5)
            # The explanation log keeps saying why it flattened; the header must clear.
            await pane.wait(lambda t: "UNPROTECTED" not in _header(t), "the header back to normal")
        ex.faults.remove(algo_down)
        assert ex.requests.posts()[-1].reduces  # flattened reduce-only
        assert len([r for r in ex.requests.posts() if not r.reduces]) == 1
        assert ex.account.protection.longest() <= GRACE_S + 3
    finally:
        pane.kill()
        await ex.stop()


def _status(env: dict[str, str]) -> dict:
    done = subprocess.run([*tapedesk_cmd(), "status", "--json", "--mode", "live"],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=60, check=True)
    return json.loads(done.stdout)


async def _status_lists_unprotected(env: dict[str, str], within: float) -> None:
    """``status --json`` names the symbol while it is unprotected (the checkpoint may lag a
    little, so it is read until it does or the grace period is over)."""
    end = asyncio.get_running_loop().time() + within
    status: dict = {}
    while asyncio.get_running_loop().time() < end:
        status = await asyncio.to_thread(_status, env)
        if "BTCUSDT" in (status.get("unprotected") or []):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"status --json never listed BTCUSDT as unprotected: {status}")


async def _until(pred, what: str, timeout: float = 20.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _header(screen: str) -> str:
    """The status header: the screen's first two lines."""
    return "\n".join(screen.splitlines()[:2])
