"""What a user runs: `tapedesk notify add` stores a service's URL in the keyring (a real
gnome-keyring where installed), `tapedesk notify test` reaches the local stand-in, and a
headless replay desk with ``[notify]`` on tells it of every fill the journal holds. The
URL carries a password: it must reach the service and nothing else (output, config, log)."""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.helpers import write_sample_csv
from tests.keyring.conftest import _missing_tools, start_secret_service
from tests.notify.local_hook import Hook

REPO = Path(__file__).resolve().parents[2]
TAPEDESK = Path(sys.executable).with_name("tapedesk")
PASSWORD = "hook-pass-Q7vX2mK9-must-not-leak"


@pytest.fixture(scope="module")
def keyring_env(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    """A private Secret Service (real gnome-keyring), or without one the test-only file
    backend (tests/live/file_keyring.py)."""
    root = tmp_path_factory.mktemp("notify-keyring")
    if _missing_tools() is None:
        running = start_secret_service(root)
        env = {k: v for k, v in running.session.env.items() if k != "PYTHON_KEYRING_BACKEND"}
        yield "gnome-keyring", env
        running.stop()
        return
    yield "file backend", {**os.environ, "PYTHONPATH": str(REPO), "TD_FILE_KEYRING":
                           str(root / "keys.json"),
                           "PYTHON_KEYRING_BACKEND": "tests.live.file_keyring.PlainFileKeyring"}


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def _run(env: dict[str, str], *args: str, stdin: str = "", timeout: float = 60) -> \
        subprocess.CompletedProcess[str]:
    return subprocess.run([str(TAPEDESK), *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=str(REPO))


def _env(keyring_env: tuple[str, dict[str, str]], tmp_path: Path) -> dict[str, str]:
    return {**keyring_env[1], "TAPEDESK_HOME": str(tmp_path / "home"),
            "PYTHONPATH": str(REPO)}


def test_add_then_test_reaches_the_service_and_shows_no_secret(keyring_env, hook, tmp_path):
    env = _env(keyring_env, tmp_path)
    url = f"json://desk:{PASSWORD}@127.0.0.1:{hook.port}/hook"
    added = _run(env, "notify", "add", "phone", "--yes", stdin=url + "\n")
    assert added.returncode == 0, added.stderr
    assert "Stored phone: a JSON service" in added.stdout
    cfg = tmp_path / "config.toml"
    cfg.write_text('[notify]\nurls = ["phone"]\n')
    sent = _run(env, "--config", str(cfg), "--log-level", "DEBUG", "notify", "test")
    assert sent.returncode == 0, sent.stderr
    assert "phone: delivered (JSON)" in sent.stdout
    assert len(hook.received) == 1 and "Test notification" in hook.received[0]["message"]
    assert base64.b64decode(hook.auth[0].split()[1]).decode() == f"desk:{PASSWORD}"
    for text in (added.stdout, added.stderr, sent.stdout, sent.stderr, cfg.read_text()):
        assert PASSWORD not in text
    # A URL pasted into the config is refused without being repeated.
    cfg.write_text(f'[notify]\nurls = ["{url}"]\n')
    bad = _run(env, "--config", str(cfg), "notify", "test")
    assert bad.returncode == 2 and "notify.urls[0]: is not a name" in bad.stderr
    assert PASSWORD not in bad.stderr and str(hook.port) not in bad.stderr
    # Nothing stored under another name: said, exit 1, nothing sent.
    cfg.write_text('[notify]\nurls = ["phone"]\n')
    missing = _run(env, "--config", str(cfg), "notify", "test", "nobody")
    assert missing.returncode == 1 and "no URL stored for nobody" in missing.stderr
    assert len(hook.received) == 1


def test_a_headless_replay_desk_tells_the_service_of_every_fill(keyring_env, hook, tmp_path):
    env = _env(keyring_env, tmp_path)
    url = f"json://desk:{PASSWORD}@127.0.0.1:{hook.port}/hook"
    assert _run(env, "notify", "add", "phone", "--yes", stdin=url + "\n").returncode == 0
    cfg = tmp_path / "config.toml"
    cfg.write_text('[notify]\nurls = ["phone"]\nevents = ["fill", "exit"]\n'
                   'batch_window_s = 0.2\n')
    data = write_sample_csv(tmp_path / "btc.csv", days=2)
    ddir = tmp_path / "data"
    run = _run(env, "--config", str(cfg), "--data-dir", str(ddir), "--log-level", "INFO",
               "run", "--headless", "--replay", str(data), "--speed", "0", timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    db = sqlite3.connect(next(ddir.glob("*.db")))
    try:
        fills = db.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
        trades = db.execute("SELECT COUNT(*) FROM trades").fetchone()[0]
    finally:
        db.close()
    assert fills >= 2, "the sample must trade for this test to mean anything"
    assert hook.received, run.stderr[-2000:]
    assert _told(hook.received, "fills", r"(Entry|Stop-loss|Take-profit|Exit|Emergency "
                 r"close) filled:") == fills
    assert _told(hook.received, "closed trades", r"Closed (long|short)") == trades
    assert len(hook.received) <= 3 + 1  # the bucket's burst, and the flush at the end
    assert PASSWORD not in run.stdout + run.stderr


def _told(received: list[dict], plural: str, single: str) -> int:
    """Events the messages account for: "N <plural> on …" lines, plus lone sentences."""
    n = 0
    for m in received:
        for line in m["message"].splitlines():
            folded = re.match(rf"^(\d+) {plural} on", line)
            if folded:
                n += int(folded.group(1))
            elif re.match(single, line):
                n += 1
    return n


BOT_TOKEN = "123456789:AAHconsole-test-token-do-not-leak_42"


async def test_a_headless_desk_answers_the_phone_bot_and_halts(keyring_env, tmp_path):
    """`tapedesk notify telegram-token`, then a running headless desk with [telegram] on:
    /status answers the allowed chat only, /halt halts the desk (journal), the token
    appears in no output even at --log-level DEBUG."""
    import asyncio
    import signal

    from tests.notify.bot_api import BotApi

    env = _env(keyring_env, tmp_path)
    stored = _run(env, "notify", "telegram-token", stdin=BOT_TOKEN + "\n")
    assert stored.returncode == 0, stored.stderr
    api = BotApi(BOT_TOKEN)
    await api.start()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[telegram]\nenabled = true\nallowed_chat_ids = [1111]\n'
                   f'api_url = "{api.base_url}"\n')
    data = write_sample_csv(tmp_path / "btc.csv", days=2)
    ddir = tmp_path / "data"
    out, err = (tmp_path / "out.txt").open("w"), (tmp_path / "err.txt").open("w")
    desk = await asyncio.create_subprocess_exec(
        str(TAPEDESK), "--config", str(cfg), "--data-dir", str(ddir), "--log-level", "DEBUG",
        "run", "--headless", "--replay", str(data), "--speed", "60", stdout=out, stderr=err,
        env=env, cwd=str(REPO))
    try:
        assert await api.until(lambda: "getUpdates" in api.calls, timeout=30), \
            (tmp_path / "err.txt").read_text()[-2000:]
        api.say(2222, "/status")
        api.say(1111, "/status")
        assert await api.until(lambda: api.replies(1111) and api.replies(2222))
        assert api.replies(2222) == ["Not allowed."]
        assert "PAPER desk: RUNNING" in api.replies(1111)[0]
        api.say(1111, "/halt")
        assert await api.until(lambda: any("verified flat" in r for r in api.replies(1111)))
        api.say(1111, "/resume")
        assert await api.until(lambda: "Refused" in api.replies(1111)[-1])
    finally:
        if desk.returncode is None:
            desk.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(desk.wait(), 30)
        await api.close()
        out.close()
        err.close()
    stdout, stderr = (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()
    assert code == 0, stderr[-2000:]
    assert "EMERGENCY STOP" in stdout and "Step 3/3 verify" in stdout
    assert "refused /status from chat 2222" in stderr
    db = sqlite3.connect(next(ddir.glob("*.db")))
    try:
        assert db.execute("SELECT value FROM settings WHERE key='halted'").fetchone() == ("1",)
    finally:
        db.close()
    secret = BOT_TOKEN.split(":")[1]
    for text in (stored.stdout, stored.stderr, stdout, stderr, cfg.read_text()):
        assert secret not in text
