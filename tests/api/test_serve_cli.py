"""What a user runs: `tapedesk api token`, then `tapedesk serve` as a subprocess, called over
loopback with curl-like requests; its answers equal `tapedesk status --json` and `tapedesk
trades --json`, and the token is in no output, log line or file the desk wrote.

The keyring is a plain file in tmp_path (tests/live/file_keyring.py) so the child processes
share it; tests/keyring/test_api_token_keyring.py runs the token command on a real Secret
Service."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.engine.helpers import write_sample_csv

ROOT = Path(__file__).resolve().parents[2]


def _tapedesk() -> list[str]:
    exe = shutil.which("tapedesk")
    return [exe] if exe else [sys.executable, "-m", "tapedesk"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TAPEDESK_HOME", None)
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        env[var] = str(tmp_path / var.lower())
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHON_KEYRING_BACKEND"] = "tests.live.file_keyring.PlainFileKeyring"
    env["TD_FILE_KEYRING"] = str(tmp_path / "keyring.json")
    return env


def td(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_tapedesk(), *argv], capture_output=True, text=True, env=env,
                          timeout=90)


def call(url: str, token: str | None, method: str = "GET") -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_api_token_shows_creates_and_rotates(env: dict[str, str]) -> None:
    first = td(env, "api", "token")
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert "new API token stored" in first.stderr and token not in first.stderr
    again = td(env, "api", "token")
    assert (again.returncode, again.stdout.strip(), again.stderr) == (0, token, "")
    rotated = td(env, "api", "token", "--rotate")
    assert rotated.returncode == 0 and rotated.stdout.strip() not in ("", token)
    assert td(env, "api", "token").stdout.strip() == rotated.stdout.strip()
    gone = td(env, "api", "token", "--delete")
    assert gone.returncode == 0 and gone.stdout == ""
    assert td(env, "api", "token", "--delete").returncode == 1


def test_serve_answers_what_the_cli_prints(env: dict[str, str], tmp_path: Path) -> None:
    data = write_sample_csv(tmp_path / "btc_1m.csv", days=1)
    ddir = tmp_path / "desk"
    token = td(env, "api", "token").stdout.strip()
    # a first run leaves closed trades in the journal
    first = td(env, "--data-dir", str(ddir), "run", "--headless", "--replay", str(data),
               "--speed", "0")
    assert first.returncode == 0, first.stderr
    # then the desk is served: at 1x a 1m replay gives one bar a minute, so nothing changes
    # between the API's answer and the CLI's
    proc = subprocess.Popen(
        [*_tapedesk(), "--data-dir", str(ddir), "--log-level", "DEBUG", "serve", "--replay",
         str(data), "--speed", "1",
         "--no-resume", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url, lines = None, []
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"Local API listening on (http://127\.0\.0\.1:\d+)", line)
            url = found.group(1) if found else None
        assert url, f"no API line in {lines!r}; stderr {proc.stderr.read() if proc.poll() else ''}"
        assert call(f"{url}/api/status", None)[0] == 401
        assert call(f"{url}/api/status", token + "x")[0] == 401
        code, status = call(f"{url}/api/status", token)
        cli_status = td(env, "--data-dir", str(ddir), "status", "--json")
        assert code == 200 and status == json.loads(cli_status.stdout)
        assert status["running"] is True and status["pid"] == proc.pid
        code, trades = call(f"{url}/api/trades", token)
        cli_trades = td(env, "--data-dir", str(ddir), "trades", "--json")
        assert code == 200 and trades == json.loads(cli_trades.stdout) and len(trades) >= 1
        code, answer = call(f"{url}/api/emergency-stop", token, method="POST")
        assert (code, answer["verified"], answer["flat"], answer["state"]) == (
            200, True, True, "HALTED")
        after = json.loads(td(env, "--data-dir", str(ddir), "status", "--json").stdout)
        assert after["halted"] is True
        assert call(f"{url}/api/status", token)[1] == after
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Interrupted: journal flushed." in out
    # the token never reached the desk's output (its DEBUG log included) or any file it wrote
    assert token not in out + err + "".join(lines)
    for path in ddir.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_serve_refuses_a_bad_port_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    r = td(env, "--data-dir", str(tmp_path / "d"), "serve", "--replay", "sample:1m",
           "--port", "70000")
    assert r.returncode == 2
    assert r.stderr.startswith("tapedesk: --port: ") and len(r.stderr.splitlines()) == 1
