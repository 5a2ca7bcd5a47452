"""The real `tapedesk` TUI in a private tmux server: logs never draw over the app, quitting
always ends the process (after the switch to the demo, on kill-session, with a stray
thread), and a second TUI desk on the same data dir is refused before its app starts.

The paper desk is pointed at a closed port on 127.0.0.1, so it is offline for certain and
never reaches a real exchange.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (ERROR|WARNING|INFO) ", re.M)
OFFLINE_CONFIG = '[binance]\nrest_url = "http://127.0.0.1:9"\nws_url = "ws://127.0.0.1:9/"\n'


def _tapedesk() -> list[str]:
    exe = shutil.which("tapedesk")
    return [exe] if exe else [sys.executable, "-m", "tapedesk"]


def wait_for(predicate: Callable[[], Any], what: str, limit_s: float = 60.0) -> Any:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


class Tmux:
    def __init__(self, tmp: Path) -> None:
        self.cmd = ["tmux", "-S", str(tmp / "tmux.sock")]
        self.ddir = tmp / "data"
        self.env = dict(os.environ)
        self.env.pop("TAPEDESK_HOME", None)
        for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
            self.env[var] = str(tmp / var.lower())
        self.env["PYTHONPATH"] = str(ROOT)
        self.env["TERM"] = "xterm-256color"
        config = Path(self.env["XDG_CONFIG_HOME"]) / "tapedesk"
        config.mkdir(parents=True)
        (config / "config.toml").write_text(OFFLINE_CONFIG)
        self.plugins = config / "strategies"

    def start(self, name: str, *argv: str) -> None:
        env = " ".join(
            f"{k}={shlex.quote(self.env[k])}"
            for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "PYTHONPATH", "TERM")
        )
        line = shlex.join([*_tapedesk(), "--data-dir", str(self.ddir), *argv])
        inner = f"{env} {line}; echo DESK-EXITED=$?; sleep 60"
        subprocess.run(
            [*self.cmd, "new-session", "-d", "-s", name, "-x", "140", "-y", "40", inner],
            check=True,
            env=self.env,
        )

    def pane(self, name: str) -> str:
        return subprocess.run(
            [*self.cmd, "capture-pane", "-p", "-t", name], capture_output=True, text=True
        ).stdout

    def keys(self, name: str, *keys: str) -> None:
        subprocess.run([*self.cmd, "send-keys", "-t", name, *keys], check=True)

    def pid(self, mode: str) -> int:
        lock = self.ddir / f"{mode}.lock"
        return int(wait_for(lambda: lock.exists() and lock.read_text().strip(), f"{lock}"))

    def td(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_tapedesk(), "--data-dir", str(self.ddir), *argv],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=90,
        )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and " Z " not in Path(f"/proc/{pid}/stat").read_text()


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (apt-get install tmux)")
    t = Tmux(tmp_path)
    pids: list[int] = []
    yield t
    for mode in ("paper", "demo"):
        lock = t.ddir / f"{mode}.lock"
        if lock.exists() and lock.read_text().strip():
            pids.append(int(lock.read_text()))
    subprocess.run([*t.cmd, "kill-server"], capture_output=True)
    for pid in pids:  # a desk this test started and the test failed to end
        if alive(pid):
            os.kill(pid, 9)


def _quit(t: Tmux, name: str) -> None:
    """q, and y if the desk asks because a position is open."""
    t.keys(name, "q")
    time.sleep(1.0)
    if "Quit with a position open?" in t.pane(name):
        t.keys(name, "y")


def test_offline_desk_shows_only_the_app_logs_to_file_and_quits_after_the_demo_switch(
    tmux: Tmux,
) -> None:
    name = f"desk-{uuid.uuid4().hex[:6]}"
    tmux.start(name)
    pid = tmux.pid("paper")
    log = tmux.ddir / "log" / "desk-paper.log"  # --data-dir: the desk's logs live beside it
    wait_for(lambda: log.exists() and "binance.ws" in log.read_text(), "python-binance's errors")
    time.sleep(2)  # several reconnect rounds
    pane = tmux.pane(name)
    assert "PAPER" in pane.splitlines()[0]  # the header is still the first line
    assert not LOG_LINE.search(pane), pane  # no log record printed over the app
    assert "ERROR binance" not in pane
    records = log.read_text()
    assert LOG_LINE.search(records) and "Failed to connect to websocket" in records
    with sqlite3.connect(f"file:{tmux.ddir / 'paper.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT kind, text FROM explanations WHERE text LIKE '%binance%'")
        forwarded = rows.fetchall()
    assert forwarded and forwarded[0][0] == "error"  # warnings reach the explanation log

    tmux.keys(name, "d")
    wait_for(lambda: "DEMO" in tmux.pane(name).splitlines()[0], "the offline demo")
    demo_pid = tmux.pid("demo")
    assert demo_pid == pid  # the same process switched desks
    paper = json.loads(tmux.td("status", "--json", "--mode", "paper").stdout)
    assert paper["running"] is False  # the paper desk stopped and let go of its journal
    _quit(tmux, name)
    wait_for(lambda: not alive(pid), "the process to end after q", limit_s=10)
    assert "DESK-EXITED=0" in tmux.pane(name)
    assert not LOG_LINE.search(tmux.pane(name))


def test_kill_session_after_the_demo_switch_ends_the_process(tmux: Tmux) -> None:
    name = f"desk-{uuid.uuid4().hex[:6]}"
    tmux.start(name)
    pid = tmux.pid("paper")
    wait_for(lambda: "PAPER" in tmux.pane(name), "the paper desk")
    tmux.keys(name, "d")
    wait_for(lambda: "DEMO" in tmux.pane(name).splitlines()[0], "the offline demo")
    subprocess.run([*tmux.cmd, "kill-session", "-t", name], check=True)
    wait_for(lambda: not alive(pid), "the process to end after kill-session", limit_s=10)


def test_quit_ends_the_process_even_when_a_plugin_left_a_thread_running(tmux: Tmux) -> None:
    tmux.plugins.mkdir()
    (tmux.plugins / "stray.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(3600,), name='stray-plugin-thread').start()\n"
    )
    name = f"desk-{uuid.uuid4().hex[:6]}"
    tmux.start(name, "demo")
    pid = tmux.pid("demo")
    wait_for(lambda: "DEMO" in tmux.pane(name), "the demo")
    _quit(tmux, name)
    wait_for(lambda: not alive(pid), "the process to end despite the thread", limit_s=15)
    log = (tmux.ddir / "log" / "desk-demo.log").read_text()
    assert "stray-plugin-thread" in log


def test_second_tui_desk_is_refused_before_its_app_starts(tmux: Tmux) -> None:
    name = f"desk-{uuid.uuid4().hex[:6]}"
    tmux.start(name, "demo")
    pid = tmux.pid("demo")
    wait_for(lambda: "FILL" in tmux.pane(name), "a fill in the first desk", limit_s=90)
    second = tmux.td("demo")  # no terminal: had it reached the app, this would hang
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and f"PID {pid}" in second.stderr
    assert "Traceback" not in second.stderr
    halted = tmux.td("halt", "--mode", "demo")
    assert halted.returncode == 0 and "verified flat" in halted.stdout, halted
    wait_for(lambda: "HALTED" in tmux.pane(name), "the first desk halted on screen")
    st = json.loads(tmux.td("status", "--json", "--mode", "demo").stdout)
    assert st["running"] is True and st["pid"] == pid and st["halted"] is True
    _quit(tmux, name)
    wait_for(lambda: not alive(pid), "the process to end after q", limit_s=10)


def test_sigterm_and_hangup_end_a_desk_whose_terminal_stopped_reading(tmp_path: Path) -> None:
    """The 24-minute orphan: a terminal that takes no more output (a frozen or vanished
    tmux pane) blocks Textual's writer, then the app's event loop on the writer's full
    queue; the desk's signal handlers only schedule work on that loop. It must still end."""
    import pty

    env = Tmux(tmp_path).env if shutil.which("tmux") else dict(os.environ)
    ddir = tmp_path / "data"
    pid, master = pty.fork()
    if pid == 0:  # the child: the desk on a terminal nobody reads
        try:
            os.execvpe(_tapedesk()[0], [*_tapedesk(), "--data-dir", str(ddir), "demo"], env)
        finally:
            os._exit(127)
    try:
        lock = ddir / "demo.lock"
        wait_for(lambda: lock.exists() and lock.read_text().strip(), "the desk to start")
        time.sleep(4)  # the screen is far larger than the pty's buffer: output is stuck
        os.kill(pid, signal.SIGTERM)
        started = time.monotonic()
        status = None
        while time.monotonic() - started < 30:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.2)
        else:
            os.close(master)  # the terminal vanishes too: SIGHUP
            master = -1
            time.sleep(15)
            done, status = os.waitpid(pid, os.WNOHANG)
            raise AssertionError(
                f"SIGTERM did not end the desk in 30 s (ended after hang-up: {bool(done)})"
            )
    finally:
        if master >= 0:
            os.close(master)
        with contextlib.suppress(ChildProcessError, ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert status is not None
