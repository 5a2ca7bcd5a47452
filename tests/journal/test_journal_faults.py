"""Journal faults through the real console script: one plain line, no traceback, and the
journal holds exactly what the desk said it holds.

Each fault is made for real: another process holding SQLite's write lock, a file-size
limit (RLIMIT_FSIZE in the child), a full tmpfs, a read-only bind mount, garbage written
into the file, the file deleted under a running desk.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.helpers import write_sample_csv
from tests.journal.desk_runs import (
    TAPEDESK,
    assert_one_plain_line,
    count,
    headless,
    printed,
    printed_fills,
    start,
    wait_for_fills,
    write_config,
)

LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_csv(tmp_path_factory.mktemp("data") / "btc_1m.csv", days=4)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    """A finished, healthy journal to damage."""
    root = tmp_path_factory.mktemp("good")
    cfg = write_config(root / "config.toml")
    subprocess.run(headless(cfg, root / "desk", data), check=True, capture_output=True)
    return root / "desk" / "paper.db"


def _hold_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


# -- refused at start ----------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage at 0", "garbage at 16 KB", "truncated"])
def test_corrupt_journal_is_refused_at_start_with_the_file_named(
    tmp_path: Path, data: Path, journal: Path, damage: str
) -> None:
    ddir = tmp_path / "desk"
    ddir.mkdir()
    db = ddir / "paper.db"
    shutil.copy(journal, db)
    with open(db, "r+b") as f:
        if damage == "truncated":
            f.truncate(20_000)
        else:
            f.seek(0 if damage == "garbage at 0" else 16_384)
            f.write(os.urandom(8192))
    before = db.read_bytes()
    cfg = write_config(tmp_path / "config.toml")
    run = subprocess.run(headless(cfg, ddir, data), capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    line = assert_one_plain_line(run.stderr)
    assert f"journal {db} is corrupt" in line and f"mv {db} {db}.corrupt" in line
    assert run.stdout == ""  # nothing ran, nothing announced
    assert db.read_bytes() == before  # and nothing written
    for cmd in ("status", "trades"):  # the readers name the file too, in one line
        read = subprocess.run(
            [TAPEDESK, "--data-dir", str(ddir), cmd], capture_output=True, text=True, timeout=60
        )
        assert "Traceback" not in read.stderr
        if read.returncode == 0 and damage == "garbage at 16 KB":
            continue  # the pages this reader needs are intact: it may read them
        assert read.returncode == 2
        assert f"journal {db} is corrupt" in assert_one_plain_line(read.stderr)

    db.rename(db.with_name("paper.db.corrupt"))  # what the line says to do
    again = subprocess.run(headless(cfg, ddir, data), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert count(db) > 0


@pytest.fixture
def read_only_dir(tmp_path: Path, journal: Path) -> Iterator[Path]:
    ddir = tmp_path / "ro"
    ddir.mkdir(mode=0o700)  # private already: the desk's 0700 check passes, the journal's is tested
    ddir.chmod(0o700)
    shutil.copy(journal, ddir / "paper.db")
    if os.geteuid() != 0:
        ddir.chmod(0o500)
        yield ddir
        ddir.chmod(0o700)
        return
    mounted = subprocess.run(["mount", "--bind", str(ddir), str(ddir)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount as root here: {mounted.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ddir)], check=True)
        yield ddir
    finally:
        subprocess.run(["umount", str(ddir)], check=False)


def test_read_only_data_dir_is_refused_at_start_in_one_line(
    tmp_path: Path, data: Path, journal: Path, read_only_dir: Path
) -> None:
    cfg = write_config(tmp_path / "config.toml")
    run = subprocess.run(
        headless(cfg, read_only_dir, data), capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    line = assert_one_plain_line(run.stderr)
    # The desk lock beside the journal is the first file a desk writes: it names the file.
    assert str(read_only_dir) in line
    assert "read-only" in line.lower()
    assert (read_only_dir / "paper.db").read_bytes() == journal.read_bytes()


def test_a_healthy_journal_on_a_read_only_dir_is_still_read_by_status_and_trades(
    read_only_dir: Path,
) -> None:
    for cmd in ("status", "trades"):  # a backup on read-only media is not "corrupt"
        run = subprocess.run([TAPEDESK, "--data-dir", str(read_only_dir), cmd, "--json"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert "corrupt" not in run.stderr and "Traceback" not in run.stderr


# -- failing mid-run -----------------------------------------------------------------


def test_lock_held_by_another_process_stops_entries_then_recovers_without_losing_a_record(
    tmp_path: Path, data: Path
) -> None:
    cfg = write_config(tmp_path / "config.toml")
    db = tmp_path / "desk" / "paper.db"
    desk = start(headless(cfg, db.parent, data, speed="30000"))
    wait_for_fills(db, desk)
    locker = _hold_lock(db, 8.0)  # longer than the 5 s a write waits for a lock
    out, err = desk.communicate(timeout=120)
    locker.wait()
    assert desk.returncode == 0, err
    assert "Traceback" not in err
    error = next(ln for ln in printed(out, "ERROR") if "JOURNAL ERROR" in ln)
    assert "paper.db is locked by another process" in error
    assert "New entries stopped" in error
    assert any("Journal writable again" in ln for ln in printed(out, "DESK"))
    # Every fill printed is in the journal, and every fill in the journal was printed:
    # the held records were committed after the lock went away, none lost or doubled.
    assert printed_fills(out) == count(db) > 0
    assert count(db, "trades") == len(printed(out, "EXIT"))


def test_lock_held_until_the_desk_gives_up_ends_in_one_line_and_a_true_summary(
    tmp_path: Path, data: Path
) -> None:
    cfg = write_config(tmp_path / "config.toml", give_up=2)
    db = tmp_path / "desk" / "paper.db"
    desk = start(headless(cfg, db.parent, data, speed="30000"))
    wait_for_fills(db, desk)
    locker = _hold_lock(db, 60.0)
    try:
        out, err = desk.communicate(timeout=120)
    finally:
        locker.kill()
        locker.wait()
    assert desk.returncode == 1
    line = assert_one_plain_line(err)
    assert f"journal {db} could not be written (paper.db is locked" in line
    on_disk = int(re.search(r"On disk: (\d+) fills", line).group(1))
    assert "NOT saved:" in line
    assert "Summary (paper" in out  # the summary still comes
    assert on_disk == count(db) == printed_fills(out)


def test_file_size_limit_is_a_journal_error_not_a_sigxfsz_kill(tmp_path: Path, data: Path) -> None:
    cfg = write_config(tmp_path / "config.toml", give_up=2)
    db = tmp_path / "desk" / "paper.db"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))

    run = subprocess.run(
        headless(cfg, db.parent, data),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )
    assert run.returncode == 1, run.stderr  # not -SIGXFSZ
    line = assert_one_plain_line(run.stderr)
    assert "file size limit reached (ulimit -f: 150,000 bytes)" in line
    on_disk = int(re.search(r"On disk: (\d+) fills", line).group(1))
    assert on_disk == count(db) == printed_fills(run.stdout)
    assert any("JOURNAL ERROR" in ln for ln in printed(run.stdout, "ERROR"))


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount(8) here")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160k,mode=0700", "tmpfs", str(mnt)],
        capture_output=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_full_disk_is_a_journal_error_with_the_cause(
    tmp_path: Path, data: Path, small_tmpfs: Path
) -> None:
    cfg = write_config(tmp_path / "config.toml", give_up=2)
    db = small_tmpfs / "desk" / "paper.db"
    run = subprocess.run(
        headless(cfg, db.parent, data), capture_output=True, text=True, timeout=120
    )
    assert run.returncode in (1, 2), run.stderr
    line = assert_one_plain_line(run.stderr)
    assert "disk full" in line
    if run.returncode == 1:  # it got going before the disk filled
        on_disk = int(re.search(r"On disk: (\d+) fills", line).group(1))
        assert on_disk == count(db) == printed_fills(run.stdout)


def test_journal_deleted_under_a_running_desk_halts_entries_and_says_so(
    tmp_path: Path, data: Path
) -> None:
    cfg = write_config(tmp_path / "config.toml", give_up=2)
    db = tmp_path / "desk" / "paper.db"
    desk = start(headless(cfg, db.parent, data, speed="30000"))
    wait_for_fills(db, desk)
    db.unlink()
    t0 = time.monotonic()
    out, err = desk.communicate(timeout=120)
    assert desk.returncode == 1
    assert time.monotonic() - t0 < 30  # it did not replay on for the whole file
    line = assert_one_plain_line(err)
    assert "paper.db was deleted under the running desk" in line
    error = next(ln for ln in printed(out, "ERROR") if "JOURNAL ERROR" in ln)
    assert "deleted" in error and "New entries stopped" in error
    assert not db.exists()  # nothing was written to a file nobody can find
