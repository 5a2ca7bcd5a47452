"""Attacks on the local API through what a user runs: ``tapedesk api token`` and ``tapedesk
serve`` as subprocesses, the token in a real gnome-keyring on a private D-Bus
(tests/keyring/conftest.py), requests over loopback with raw sockets, urllib, curl and
aiohttp's websocket client.

One served desk per module (``served``): a 1-day replay run first leaves closed trades in
the journal, then ``serve`` replays the same day at 1x (one bar a minute), so nothing moves
between the API's answer and the CLI's.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import sample_csv, test_keyring  # noqa: F401  (fixtures reused)
from tests.engine.helpers import write_sample_csv

ROOT = Path(__file__).resolve().parents[2]


def tapedesk_cmd() -> list[str]:
    exe = shutil.which("tapedesk")
    return [exe] if exe else [sys.executable, "-m", "tapedesk"]


@pytest.fixture(scope="session")
def keyring_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private, real Secret Service; the environment a tapedesk child needs to use it."""
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.skip(f"real Secret Service unavailable: {tool} not installed")
    from tests.keyring.conftest import start_secret_service

    root = tmp_path_factory.mktemp("api-attack-keyring")
    running = start_secret_service(root)
    env = {k: v for k, v in running.session.env.items() if k != "PYTHON_KEYRING_BACKEND"}
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1", XDG_CONFIG_HOME=str(root / "xdg-config"))
    env.pop("TAPEDESK_HOME", None)
    try:
        yield env
    finally:
        running.stop()


def td(env: dict[str, str], *argv: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tapedesk_cmd(), *argv], capture_output=True, text=True, env=env,
                          timeout=timeout)


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str
    port: int
    token: str
    ddir: Path
    env: dict[str, str]
    out_path: Path
    lines: list[str] = field(default_factory=list)

    def call(self, path: str, method: str = "GET", token: str | None = "",
             headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        """(status, JSON or text body, headers); token "" = the right one, None = none."""
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token or self.token}"
        req = urllib.request.Request(self.url + path, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, raw, h = r.status, r.read(), r.headers
        except urllib.error.HTTPError as exc:
            status, raw, h = exc.code, exc.read(), exc.headers
        try:
            return status, json.loads(raw), h
        except ValueError:
            return status, raw.decode(errors="replace"), h

    def cli_json(self, *argv: str) -> Any:
        done = td(self.env, "--data-dir", str(self.ddir), *argv, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")


def start_serve(env: dict[str, str], ddir: Path, data: Path, out_path: Path,
                *extra: str, speed: str = "1") -> tuple[subprocess.Popen[str], str]:
    """``tapedesk serve`` in the background, its output to a file; (process, API url)."""
    out = out_path.open("w")
    proc = subprocess.Popen(
        [*tapedesk_cmd(), "--data-dir", str(ddir), "--log-level", "DEBUG", "serve",
         "--replay", str(data), "--speed", speed, "--no-resume", "--port", "0", *extra],
        stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    out.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"Local API listening on (http://[^ ]+?:\d+)",
                          out_path.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {out_path.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no API line: {out_path.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def served(keyring_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    env = dict(keyring_env)
    made = td(env, "api", "token")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    data = write_sample_csv(root / "btc_1m.csv", days=1)
    ddir = root / "desk"
    first = td(env, "--data-dir", str(ddir), "run", "--headless", "--replay", str(data),
               "--speed", "0")
    assert first.returncode == 0, first.stderr
    proc, url = start_serve(env, ddir, data, root / "serve.out")
    s = Served(proc, url, int(url.rsplit(":", 1)[1]), token, ddir, env, root / "serve.out")
    try:
        yield s
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def write_config(path: Path, **api: Any) -> Path:
    lines = ["[api]"] + [f"{k} = {json.dumps(v)}" for k, v in api.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def raw_request(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes as they are (no client library tidying them) and read until closed."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except TimeoutError:
            pass
    return got


def env_without(env: dict[str, str], **changes: str) -> dict[str, str]:
    out = dict(env)
    out.update(changes)
    return out


