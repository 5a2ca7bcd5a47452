"""The TUI desk in a real tmux pane at --log-level DEBUG with [notify] on, offline (a closed
port stands for Binance): python-binance's errors become "error" notifications, the service
answers 500 echoing the request. The password in the service's URL must reach neither the
desk's log file, the journal, nor the screen."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.attacks_remote.echo_service import EchoingError

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-Tm44-never-in-the-log-file"
OFFLINE = '[binance]\nrest_url = "http://127.0.0.1:9"\nws_url = "ws://127.0.0.1:9/"\n'


def _until(pred, what: str, limit: float = 40.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if value := pred():
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def test_tui_log_file_journal_and_screen_hold_no_notify_secret(tmp_path: Path) -> None:
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (apt-get install tmux)")
    svc = EchoingError(500)
    sock = ["tmux", "-S", str(tmp_path / "tmux.sock")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color",
           "TD_FILE_KEYRING": str(tmp_path / "keys.json"),
           "PYTHON_KEYRING_BACKEND": "tests.live.file_keyring.PlainFileKeyring"}
    env.pop("TAPEDESK_HOME", None)
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        env[var] = str(tmp_path / var.lower())
    cfg = Path(env["XDG_CONFIG_HOME"]) / "tapedesk" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(OFFLINE + '[notify]\nurls = ["svc"]\nbatch_window_s = 0\n')
    exe = str(Path(sys.executable).with_name("tapedesk"))
    url = f"json://desk:{PASSWORD}@127.0.0.1:{svc.port}/hook?key={PASSWORD}"
    added = subprocess.run([exe, "notify", "add", "svc", "--yes"], input=url + "\n", env=env,
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    ddir = tmp_path / "data"
    keep = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "PYTHONPATH", "TERM",
            "TD_FILE_KEYRING", "PYTHON_KEYRING_BACKEND")
    line = " ".join(f"{k}={shlex.quote(env[k])}" for k in keep) + " " + shlex.join(
        [exe, "--log-level", "DEBUG", "--data-dir", str(ddir)])
    subprocess.run([*sock, "new-session", "-d", "-s", "desk", "-x", "140", "-y", "40",
                    f"{line}; echo DESK-EXITED=$?; sleep 30"], check=True, env=env)

    def pane() -> str:
        return subprocess.run([*sock, "capture-pane", "-p", "-t", "desk"], capture_output=True,
                              text=True).stdout

    screens = []
    try:
        _until(lambda: svc.requests >= 1, "an error notification to reach the service")
        log = ddir / "log" / "desk-paper.log"
        _until(lambda: log.exists() and "notification to svc failed" in log.read_text(),
               "the failed send in the desk's log")
        screens.append(pane())
        subprocess.run([*sock, "send-keys", "-t", "desk", "q"], check=True)
        time.sleep(0.5)
        if "DESK-EXITED" not in pane():
            subprocess.run([*sock, "send-keys", "-t", "desk", "y"], check=True)
        screens.append(_until(lambda: p if "DESK-EXITED" in (p := pane()) else "",
                              "the desk to exit", 30))
    finally:
        subprocess.run([*sock, "kill-server"], check=False, capture_output=True)
        svc.close()
    assert "DESK-EXITED=0" in screens[-1], screens[-1]
    for f in ddir.rglob("*"):
        if f.is_file():
            assert PASSWORD.encode() not in f.read_bytes(), f
    for screen in screens:
        assert PASSWORD not in screen
    assert PASSWORD not in cfg.read_text()
