"""End to end: the real `tapedesk demo` in a real tmux pane, e-stop by keystroke, then the CLI.

Skips (with the reason) when tmux is absent or the `tapedesk` command cannot be run.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def _tapedesk_cmd() -> list[str] | None:
    exe = shutil.which("tapedesk")
    if exe:
        return [exe]
    if (REPO / "tui" / "launch.py").exists():
        return [sys.executable, "-c", "import sys; from tapedesk.tui.launch import main; sys.exit(main())"]
    return None


def _wait_for(predicate, what: str, limit_s: float = 60.0):
    """Poll until predicate() is truthy; the limit only bounds a hung run (not a timing test)."""
    deadline = time.monotonic() + limit_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def tmux_session(tmp_path):
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (CI installs it: apt-get install tmux)")
    cmd = _tapedesk_cmd()
    if cmd is None:
        pytest.skip("no `tapedesk` command: tui/launch.py (the lead's CLI wiring) is missing")
    name = f"tapedesk-e2e-{uuid.uuid4().hex[:8]}"
    home = tmp_path / "e2e-home"
    home.mkdir()
    env = {**os.environ, "TAPEDESK_HOME": str(home), "PYTHONPATH": str(REPO)}
    socket = tmp_path / "tmux.sock"  # a private tmux server: never touches the user's sessions
    tmux = ["tmux", "-S", str(socket)]
    inner = (f"cd {shlex.quote(str(REPO))} && TAPEDESK_HOME={shlex.quote(str(home))} "
             f"PYTHONPATH={shlex.quote(str(REPO))} TERM=xterm-256color "
             f"{shlex.join(cmd)} demo; echo DESK-EXITED=$?; sleep 30")
    subprocess.run([*tmux, "new-session", "-d", "-s", name, "-x", "100", "-y", "30", inner],
                   check=True, env=env)
    yield tmux, name, cmd, env
    subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)


def _pane(tmux, name) -> str:
    out = subprocess.run([*tmux, "capture-pane", "-p", "-t", name], capture_output=True,
                         text=True, check=False)
    return out.stdout


def test_ctrl_x_in_tmux_halts_flat_and_status_json_agrees(tmux_session):
    tmux, name, cmd, env = tmux_session
    _wait_for(lambda: "FILL" in _pane(tmux, name), "a fill in the explanation log", 90)
    subprocess.run([*tmux, "send-keys", "-t", name, "C-x"], check=True)
    pane = _wait_for(
        lambda: (p := _pane(tmux, name)) and "HALTED" in p and "verified flat" in p and p,
        "HALTED and verified flat on screen",
    )
    assert "flat" in pane
    status = subprocess.run([*cmd, "status", "--json"], capture_output=True, text=True,
                            env=env, check=True, timeout=60)
    data = json.loads(status.stdout)
    assert data["halted"] is True
    assert not data["positions"] and data["position"] is None
    subprocess.run([*tmux, "send-keys", "-t", name, "q"], check=True)
    _wait_for(lambda: "DESK-EXITED=0" in _pane(tmux, name), "the desk to exit cleanly")


def test_enter_in_the_resume_dialog_keeps_the_desk_halted_in_tmux(tmux_session):
    tmux, name, cmd, env = tmux_session
    _wait_for(lambda: "RUNNING" in _pane(tmux, name), "the desk running", 90)
    subprocess.run([*tmux, "send-keys", "-t", name, "C-x"], check=True)
    _wait_for(lambda: "HALTED" in _pane(tmux, name), "HALTED on screen")
    subprocess.run([*tmux, "send-keys", "-t", name, "r"], check=True)
    _wait_for(lambda: "Resume from HALT?" in _pane(tmux, name), "the resume dialog")
    subprocess.run([*tmux, "send-keys", "-t", name, "Enter"], check=True)
    pane = _wait_for(lambda: (p := _pane(tmux, name)) and "Resume from HALT?" not in p and p,
                     "the dialog to close")
    assert "HALTED" in pane and "Press r to resume" in pane
    status = subprocess.run([*cmd, "status", "--json"], capture_output=True, text=True,
                            env=env, check=True, timeout=60)
    assert json.loads(status.stdout)["halted"] is True
    subprocess.run([*tmux, "send-keys", "-t", name, "q"], check=True)
    _wait_for(lambda: "DESK-EXITED=0" in _pane(tmux, name), "the desk to exit cleanly")


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_desk_shows_offline_and_nothing_writes_over_it(tmp_path):
    """`tapedesk` (paper on live data) pointed at a local port nobody listens on: the
    websocket client logs errors every few seconds; none may reach the terminal."""
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (CI installs it: apt-get install tmux)")
    cmd = _tapedesk_cmd()
    if cmd is None:
        pytest.skip("no `tapedesk` command")
    port = _closed_port()
    cfg = tmp_path / "offline.toml"
    cfg.write_text(f'[binance]\nrest_url = "http://127.0.0.1:{port}/"\n'
                   f'ws_url = "ws://127.0.0.1:{port}/"\n')
    home = tmp_path / "offline-home"
    home.mkdir()
    socket_ = tmp_path / "tmux.sock"
    tmux = ["tmux", "-S", str(socket_)]
    inner = (f"cd {shlex.quote(str(REPO))} && TAPEDESK_HOME={shlex.quote(str(home))} "
             f"PYTHONPATH={shlex.quote(str(REPO))} TERM=xterm-256color "
             f"{shlex.join(cmd)} --config {shlex.quote(str(cfg))}; echo DESK-EXITED=$?; "
             "sleep 30")
    subprocess.run([*tmux, "new-session", "-d", "-s", "offline", "-x", "110", "-y", "32", inner],
                   check=True)
    try:
        pane = _wait_for(lambda: (p := _pane(tmux, "offline")) and "OFFLINE" in p and p,
                         "the header to say OFFLINE", 60)
        from tapedesk.engine.paths import log_file

        log = log_file(home, "paper")
        _wait_for(lambda: log.exists() and "ERROR" in log.read_text(), "errors in the log file")
        pane = _pane(tmux, "offline")
        lines = [ln for ln in pane.splitlines() if ln.strip()]
        assert lines[0].lstrip().startswith(("PAPER", "LIVE")), lines[0]
        assert "connecting" not in lines[0] and "OFFLINE: no market data for" in pane
        for ln in lines:  # every line belongs to the desk: header, a pane, or the footer
            assert not ln.startswith(("ERROR", "WARNING", "20")), ln
        subprocess.run([*tmux, "send-keys", "-t", "offline", "q"], check=True)
        _wait_for(lambda: "DESK-EXITED=0" in _pane(tmux, "offline"), "the desk to exit")
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
