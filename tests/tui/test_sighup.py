"""Closing the terminal (SIGHUP) stops the engine cleanly before the desk exits."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def test_terminal_closing_stops_the_engine_then_exits(tmp_path: Path):
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (needed to give the desk a real terminal to lose)")
    marker = tmp_path / "marker"
    sock = tmp_path / "tmux.sock"
    tmux = ["tmux", "-S", str(sock)]
    cmd = f"{sys.executable} {HERE / 'hup_target.py'} {marker}"
    subprocess.run([*tmux, "new-session", "-d", "-s", "hup", "-x", "100", "-y", "30", cmd],
                   check=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the desk is up once its footer is drawn
            pane = subprocess.run([*tmux, "capture-pane", "-p", "-t", "hup"],
                                  capture_output=True, text=True).stdout
            if "E-STOP" in pane:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"desk never drew its footer:\n{pane}")
        pid = int((tmp_path / "pid").read_text())
        subprocess.run([*tmux, "kill-server"], check=True)  # the terminal goes away: SIGHUP
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    assert not _alive(pid), "the desk hung after its terminal went away"
    assert marker.exists() and marker.read_text().startswith("stopped"), (
        "the desk exited without stopping the engine (journal not flushed)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
