"""The `tapedesk` console script beside a running headless desk: one desk per data dir and
mode, status by the lock, halt that reports what the venue verified, resume, closed pipes,
a private data dir and `tapedesk paths`. Every test runs the real command as a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.helpers import write_sample_csv

ROOT = Path(__file__).resolve().parents[2]


def _tapedesk() -> list[str]:
    exe = shutil.which("tapedesk")
    return [exe] if exe else [sys.executable, "-m", "tapedesk"]


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment whose every tapedesk path is under tmp_path."""
    env = dict(os.environ)
    env.pop("TAPEDESK_HOME", None)
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        env[var] = str(tmp_path / var.lower())
    env["PYTHONPATH"] = str(ROOT)
    return env


def td(env: dict[str, str], *argv: str, stdin: str | None = None, timeout: float = 90):
    return subprocess.run(
        [*_tapedesk(), *argv],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=timeout,
    )


class Desk:
    """A `tapedesk run --headless --replay` desk in the background."""

    def __init__(self, env: dict[str, str], ddir: Path, data: Path, speed: str = "3000") -> None:
        self.ddir = ddir
        self.proc = subprocess.Popen(
            [
                *_tapedesk(),
                "--data-dir",
                str(ddir),
                "run",
                "--headless",
                "--replay",
                str(data),
                "--speed",
                speed,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def wait_listening(self) -> None:
        sock = self.ddir / "paper.sock"
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() < deadline, "the desk never opened its control socket"
            time.sleep(0.05)

    def stop(self) -> tuple[str, str]:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # a frozen desk cannot act on SIGTERM
            self.proc.terminate()
        return self.proc.communicate(timeout=60)


@pytest.fixture
def desk(tmp_path: Path, home: dict[str, str]) -> Iterator[Desk]:
    data = write_sample_csv(tmp_path / "b.csv", days=3)
    d = Desk(home, tmp_path / "d", data)
    try:
        d.wait_listening()
        yield d
    finally:
        d.stop()


def _fingerprint(ddir: Path) -> dict[str, object]:
    """Every file in the data dir: bytes for regular files, inode for the socket."""
    out: dict[str, object] = {}
    for p in sorted(ddir.iterdir()):
        st = p.stat()
        out[p.name] = (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ("inode", st.st_ino)
        )
    return out


def test_second_desk_on_a_frozen_desks_data_dir_is_refused_and_touches_nothing(
    desk: Desk, home: dict[str, str], tmp_path: Path
) -> None:
    os.kill(desk.proc.pid, signal.SIGSTOP)  # frozen: no ping would answer; the lock still holds
    time.sleep(0.3)
    before = _fingerprint(desk.ddir)
    for argv in (
        ["run", "--headless", "--replay", str(tmp_path / "b.csv"), "--speed", "0"],
        ["run", "--headless"],  # paper mode on live data: the same journal, the same lock
    ):
        second = td(home, "--data-dir", str(desk.ddir), *argv)
        assert second.returncode == 2
        assert second.stderr.strip().count("\n") == 0, second.stderr  # ONE line
        assert f"PID {desk.proc.pid}" in second.stderr and "already running" in second.stderr
        assert "Traceback" not in second.stderr and second.stdout == ""
        assert _fingerprint(desk.ddir) == before  # no socket unlinked, no setting, no row
    os.kill(desk.proc.pid, signal.SIGCONT)
    halted = td(home, "--data-dir", str(desk.ddir), "halt")
    assert halted.returncode == 0, halted.stderr
    assert "verified flat" in halted.stdout


def test_desks_started_at_the_same_instant_exactly_one_runs(
    tmp_path: Path, home: dict[str, str]
) -> None:
    data = write_sample_csv(tmp_path / "b.csv", days=3)
    desks = [Desk(home, tmp_path / "d", data) for _ in range(3)]
    try:
        deadline = time.monotonic() + 60
        while sum(d.proc.poll() is not None for d in desks) < 2:
            assert time.monotonic() < deadline, "the losers never exited"
            time.sleep(0.1)
        time.sleep(1)
        running = [d for d in desks if d.proc.poll() is None]
        assert len(running) == 1
        for loser in (d for d in desks if d is not running[0]):
            _out, err = loser.proc.communicate()
            assert loser.proc.returncode == 2 and f"PID {running[0].proc.pid}" in err
        status = json.loads(td(home, "--data-dir", str(tmp_path / "d"), "status", "--json").stdout)
        assert status["running"] is True and status["pid"] == running[0].proc.pid
    finally:
        for d in desks:
            d.stop()


def test_status_halt_and_resume_against_a_running_headless_desk(
    desk: Desk, home: dict[str, str]
) -> None:
    ddir = ["--data-dir", str(desk.ddir)]
    st = json.loads(td(home, *ddir, "status", "--json").stdout)
    assert st["running"] is True and st["pid"] == desk.proc.pid and st["halted"] is False
    assert "RUNNING" in td(home, *ddir, "status").stdout

    halted = td(home, *ddir, "halt")
    assert halted.returncode == 0, halted.stderr
    assert f"paper desk (PID {desk.proc.pid})" in halted.stdout
    assert "verified flat" in halted.stdout and "HALTED" in halted.stdout
    assert json.loads(td(home, *ddir, "status", "--json").stdout)["halted"] is True

    declined = td(home, *ddir, "resume", stdin="n\n")
    assert declined.returncode == 1 and "Resume the paper desk" in declined.stdout
    assert "left HALTED" in declined.stdout
    assert json.loads(td(home, *ddir, "status", "--json").stdout)["halted"] is True

    resumed = td(home, *ddir, "resume", stdin="y\n")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout
    assert json.loads(td(home, *ddir, "status", "--json").stdout)["halted"] is False
    assert "neither halted nor paused" in td(home, *ddir, "resume", "--yes").stdout

    td(home, *ddir, "halt")
    out, _ = desk.stop()
    assert "Halt lifted by the trader" in out
    after = json.loads(td(home, *ddir, "status", "--json").stdout)
    assert after["running"] is False and after["pid"] is None and after["halted"] is True
    text = td(home, *ddir, "status").stdout
    assert "NOT RUNNING" in text and "last known: HALTED" in text and "RUNNING\n" not in text


def test_halt_retries_a_desk_whose_socket_backlog_is_full(desk: Desk, home: dict[str, str]) -> None:
    os.kill(desk.proc.pid, signal.SIGSTOP)
    fillers = []
    try:
        while True:  # a frozen desk accepts nothing: fill its listen backlog
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(str(desk.ddir / "paper.sock"))
            except BlockingIOError:  # EAGAIN: full; this is what `halt` will meet
                s.close()
                break
            fillers.append(s)
            assert len(fillers) < 10_000
        halt = subprocess.Popen(
            [*_tapedesk(), "--data-dir", str(desk.ddir), "halt"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=home,
        )
        time.sleep(3)  # halt meets EAGAIN over and over meanwhile
        assert halt.poll() is None, halt.communicate()
    finally:
        for s in fillers:
            s.close()
        os.kill(desk.proc.pid, signal.SIGCONT)
    out, err = halt.communicate(timeout=60)
    assert halt.returncode == 0, err
    assert "verified flat" in out and "no desk" not in err


def test_a_killed_desk_is_not_running_and_halt_says_no_desk(
    desk: Desk, home: dict[str, str]
) -> None:
    desk.proc.kill()
    desk.proc.wait()
    assert (desk.ddir / "paper.sock").exists()  # left behind by kill -9
    halt = td(home, "--data-dir", str(desk.ddir), "halt")
    assert halt.returncode == 1 and "no desk is running" in halt.stderr
    st = json.loads(td(home, "--data-dir", str(desk.ddir), "status", "--json").stdout)
    assert st["running"] is False


def test_trades_into_a_closed_pipe_exit_quietly(tmp_path: Path, home: dict[str, str]) -> None:
    data = write_sample_csv(tmp_path / "b.csv", days=1)
    ddir = str(tmp_path / "d")
    ran = td(home, "--data-dir", ddir, "run", "--headless", "--replay", str(data), "--speed", "0")
    assert ran.returncode == 0, ran.stderr
    for fmt in ("--csv", "--json"):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first byte (`| head -0`)
        proc = subprocess.run(
            [*_tapedesk(), "--data-dir", ddir, "trades", fmt],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=home,
            timeout=60,
        )
        os.close(write_end)
        assert proc.stderr == "", proc.stderr  # no BrokenPipeError, no "Exception ignored"
        assert proc.returncode == 141
    shell = subprocess.run(
        f"{' '.join(_tapedesk())} --data-dir {ddir} trades --csv | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=home,
        timeout=60,
    )
    assert shell.stdout.startswith("symbol,side") and shell.stderr == ""


def test_data_dir_is_made_private_or_refused_with_why(tmp_path: Path, home: dict[str, str]) -> None:
    data = write_sample_csv(tmp_path / "b.csv", days=1)
    ddir = tmp_path / "d"
    ddir.mkdir(mode=0o755)
    ddir.chmod(0o755)
    run = ["--data-dir", str(ddir), "run", "--headless", "--replay", str(data), "--speed", "0"]
    assert td(home, *run).returncode == 0
    assert ddir.stat().st_mode & 0o777 == 0o700
    ddir.chmod(0o755)  # a desk's own dir, journal inside, opened up again: private again
    assert td(home, *run, "--no-resume").returncode == 0
    assert ddir.stat().st_mode & 0o777 == 0o700

    shared = tmp_path / "shared"  # e.g. --data-dir ~ : someone else's files are there
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    (shared / "notes.txt").write_text("mine")
    refused = td(home, "--data-dir", str(shared), "run", "--headless", "--replay", str(data))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "holds other files (notes.txt)" in refused.stderr and "chmod 700" in refused.stderr
    assert shared.stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in shared.iterdir()) == ["notes.txt"]
    if os.getuid() != 0:
        pytest.skip("handing the dir to another user needs root")
    other = tmp_path / "other"
    other.mkdir(mode=0o755)
    other.chmod(0o755)
    os.chown(other, 65534, 65534)
    refused = td(home, "--data-dir", str(other), "run", "--headless", "--replay", str(data))
    assert refused.returncode == 2
    assert "owned by uid 65534" in refused.stderr and refused.stderr.count("\n") == 1
    assert sorted(p.name for p in other.iterdir()) == []  # no lock, no journal


def test_paths_lists_every_location_and_finds_an_old_journal(
    tmp_path: Path, home: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import platformdirs

    shown = json.loads(td(home, "paths", "--json").stdout)
    assert shown["data_dir"] == str(Path(home["XDG_DATA_HOME"]) / "tapedesk")
    assert shown["config_file"] == str(Path(home["XDG_CONFIG_HOME"]) / "tapedesk/config.toml")
    assert shown["log_dir"] == str(Path(home["XDG_STATE_HOME"]) / "tapedesk/log")
    assert shown["journals"]["paper"].endswith("tapedesk/paper.db")
    assert shown["locks"]["demo"].endswith("tapedesk/demo.lock")
    text = td(home, "paths").stdout
    assert "journal paper" in text and "logs" in text and "Traceback" not in text
    own = json.loads(td(home, "--data-dir", str(tmp_path / "x"), "paths", "--json").stdout)
    assert own["data_dir"] == str(tmp_path / "x") and own["log_dir"] == str(tmp_path / "x/log")
    assert not (tmp_path / "x").exists()  # asking creates nothing

    # Where platformdirs differs from the old hand-built XDG path (macOS), a journal already
    # in the old place keeps being used.
    from tapedesk.engine import paths

    old = Path(home["XDG_DATA_HOME"]) / "tapedesk"
    mac = tmp_path / "Library" / "Application Support" / "tapedesk"
    monkeypatch.delenv("TAPEDESK_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", home["XDG_DATA_HOME"])
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(mac))
    assert paths.default_data_dir() == mac
    old.mkdir(parents=True)
    sqlite3.connect(old / "paper.db").close()
    assert paths.default_data_dir() == old


@pytest.mark.parametrize(
    ("mode", "argv"),
    [("live", ["--live", "run", "--headless"]), ("demo", ["demo"]), ("paper", [])],
)
def test_every_desk_command_is_refused_before_it_asks_or_draws_anything(
    tmp_path: Path, home: dict[str, str], mode: str, argv: list[str]
) -> None:
    """A held lock turns away the live desk before keys or prompts, and the TUI desks
    (demo, the default paper desk) before their app: with no terminal here, an app would
    hang rather than exit."""
    from tapedesk.engine.desk_lock import DeskLock

    ddir = tmp_path / "d"
    ddir.mkdir(mode=0o700)
    held = DeskLock(ddir, mode).acquire()
    try:
        before = _fingerprint(ddir)
        refused = td(home, "--data-dir", str(ddir), *argv, stdin="BTCUSDT\n", timeout=60)
        assert refused.returncode == 2
        assert refused.stderr == (
            f"tapedesk: a {mode} desk is already running on {ddir} (PID {os.getpid()}); "
            "quit that desk first, or use another --data-dir\n"
        )
        assert refused.stdout == ""  # no confirmation prompt, no account summary
        assert _fingerprint(ddir) == before
    finally:
        held.release()
