"""One desk per data dir and mode: an OS lock (``flock``) on ``<data dir>/<mode>.lock``.

Taken before anything else touches the data dir (journal, control socket, settings). The
kernel drops the lock when the process dies however it dies, so there is no stale lock to
clean up; a frozen (SIGSTOPped) desk still holds it; of two desks started at the same
instant exactly one gets it. The file is never unlinked: deleting it would let a newcomer
lock a fresh inode while the old desk still holds the old one. The holder writes its PID
into the file so the refused desk (and `tapedesk status`) can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

_TRIES = 5


def lock_path(data_dir: Path, mode: str) -> Path:
    return Path(data_dir) / f"{mode}.lock"


class DeskRunning(Exception):
    """Another desk holds this data dir and mode; the message is the one line to print."""

    def __init__(self, path: Path, mode: str, pid: int | None) -> None:
        self.pid = pid
        who = f"PID {pid}" if pid else "another process"
        super().__init__(
            f"a {mode} desk is already running on {path.parent} ({who}); "
            "quit that desk first, or use another --data-dir"
        )


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    return None


class DeskLockError(Exception):
    """The lock file cannot be made at all (read-only or full file system)."""


class DeskLock:
    """Held for the life of the process (or until ``release``)."""

    def __init__(self, data_dir: Path, mode: str) -> None:
        self.path = lock_path(data_dir, mode)
        self.mode = mode
        self._fd: int | None = None

    def acquire(self) -> DeskLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:  # a read-only mount, a full disk: say which file and why
            raise DeskLockError(
                f"cannot take the desk lock {self.path}: {exc.strerror or exc}"
                " (the data dir must be writable; --data-dir or $TAPEDESK_HOME picks another)"
            ) from None
        try:
            # `holder()` (tapedesk status) takes a shared lock for an instant: a few short
            # retries keep such a look from turning a desk away. A real holder keeps it.
            for attempt in range(_TRIES):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if attempt == _TRIES - 1:
                        raise
                    time.sleep(0.02)
        except BlockingIOError:
            pid = _read_pid(fd)
            if pid is None:  # the holder locked an instant ago and is writing its PID
                time.sleep(0.05)
                pid = _read_pid(fd)
            os.close(fd)
            raise DeskRunning(self.path, self.mode, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def holder(data_dir: Path, mode: str) -> int | None:
    """The PID of the desk running on ``data_dir`` in ``mode`` (0 if it wrote none), or None.

    Decided by the lock itself, not by a ping: a busy or frozen desk still counts. Opens the
    file read-only and never creates it, so asking changes nothing.
    """
    try:
        fd = os.open(lock_path(data_dir, mode), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


_held: dict[tuple[str, str], DeskLock] = {}


def lock_desk(data_dir: Path, mode: str) -> DeskLock:
    """Take (once per process) the lock for ``mode`` on ``data_dir``; raises DeskRunning."""
    key = (str(Path(data_dir).resolve()), mode)
    lock = _held.get(key)
    if lock is None or not lock.held:
        lock = DeskLock(data_dir, mode).acquire()
        _held[key] = lock
    return lock


def release_desk(data_dir: Path, mode: str) -> None:
    """Let go of ``mode`` once its desk has stopped (the TUI switched to the demo)."""
    lock = _held.pop((str(Path(data_dir).resolve()), mode), None)
    if lock is not None:
        lock.release()
