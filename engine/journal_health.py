"""Journal trouble as a desk state: why a write failed, when to retry, when to give up.

A desk that cannot write its journal must not die with a traceback (a locked file, a full
disk, a read-only mount, ``ulimit -f`` or a corrupt file are all things a trader can fix)
and must not carry on as if nothing happened either. So a failed commit *keeps* its records,
stops new entries (the engine's gate), says why in the explanation log and the header
(``DeskSnapshot.journal_error``), and is retried with backoff; protection and the emergency
stop never wait for it. Only when it has failed for ``give_up_after_s`` (or at shutdown)
does the desk stop, with one plain line saying what is and is not on disk.

Nothing is announced before its commit, except this module's own notices: the journal
being down is exactly the news that cannot wait for the journal.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: While failing, each attempt waits this long for a lock instead of the healthy 5 s, so a
#: lock held by another process does not freeze the engine loop on every retry.
RETRY_BUSY_MS = 100
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 15.0


class JournalError(Exception):
    """The journal cannot be used; the message is one plain sentence naming the file."""


class JournalCorrupt(JournalError):
    """The file fails ``PRAGMA quick_check`` or is not a SQLite database at all."""


class JournalFailure(JournalError):
    """The desk gave up writing its journal; the message says what was and was not saved."""


def corrupt_message(path: Path, detail: str) -> str:
    return (
        f"journal {path} is corrupt ({detail}); the desk will not trade on it. "
        f"Move it aside (mv {path} {path}.corrupt) and start again: a new journal is created"
    )


def describe(exc: BaseException, path: Path) -> str:
    """What went wrong, in the trader's words (the cause shown as JOURNAL ERROR)."""
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if "locked" in text or "busy" in text:
        return f"{path.name} is locked by another process"
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return f"{path.name} is corrupt"
    if code == errno.EROFS or "readonly" in text or "read-only" in text:
        return f"{path.parent} is read-only"
    if code in (errno.EACCES, errno.EPERM) or "unable to open" in text:
        return f"{path.parent} cannot be written (permission or read-only mount)"
    full = code in (errno.ENOSPC, errno.EFBIG) or "full" in text or "disk i/o" in text
    if full:
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY and _journal_bytes(path) + 65_536 >= limit:
            return f"file size limit reached (ulimit -f: {limit:,} bytes)"
        try:
            free = shutil.disk_usage(path.parent).free
        except OSError:
            free = -1
        if "full" in text or code == errno.ENOSPC or 0 <= free < 1_048_576:
            return f"disk full ({max(free, 0):,} bytes free in {path.parent})"
    return f"{type(exc).__name__}: {exc}"


def _journal_bytes(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total = max(total, os.stat(f"{path}{suffix}").st_size)
    return total


def file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


@dataclass
class JournalHealth:
    """Retry state of one desk's journal; the engine reads ``error`` as an entry gate."""

    path: Path
    give_up_after_s: float = 600.0
    error: str = ""
    failing_since: float | None = None
    attempts: int = 0
    gave_up: bool = False
    _next_try: float = 0.0
    _delay: float = FIRST_DELAY_S

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    def due(self, now: float | None = None) -> bool:
        return not self.failing or (now or time.monotonic()) >= self._next_try

    def failed(self, cause: str, now: float | None = None) -> bool:
        """Record a failed attempt; True when this is the start of an outage."""
        now = now or time.monotonic()
        first = not self.failing
        if first:
            self.failing_since = now
            self._delay = FIRST_DELAY_S
        self.error = cause
        self.attempts += 1
        self._next_try = now + self._delay
        self._delay = min(self._delay * 2, MAX_DELAY_S)
        if now - (self.failing_since or now) >= self.give_up_after_s:
            self.gave_up = True
        return first

    def recovered(self) -> float:
        """Record a successful write after an outage; returns how long it lasted (s)."""
        lasted = time.monotonic() - (self.failing_since or time.monotonic())
        self.failing_since = None
        self.error = ""
        self.attempts = 0
        self._delay = FIRST_DELAY_S
        return lasted

    def outage_text(self, held: int) -> str:
        return (
            f"JOURNAL ERROR: cannot write {self.path} ({self.error}). New entries stopped; "
            f"stops, targets and the emergency stop keep working. {held} record(s) held in "
            f"memory and retried; the desk stops if it still cannot write after "
            f"{_duration(self.give_up_after_s)}."
        )

    def summary(self, held: list[tuple[str, tuple[Any, ...]]], committed: dict[str, int]) -> str:
        """One line for the trader: what is safely on disk and what is not."""
        lost = _count_tables(held)
        on_disk = ", ".join(f"{n} {t}" for t, n in committed.items()) or "nothing"
        not_saved = ", ".join(f"{n} {t}" for t, n in lost.items()) or "nothing"
        return (
            f"journal {self.path} could not be written ({self.error or 'unknown cause'}): "
            f"desk stopped. On disk: {on_disk}. NOT saved: {not_saved}"
        )


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _count_tables(records: list[tuple[str, tuple[Any, ...]]]) -> dict[str, int]:
    """Fills and round trips by name; everything else (order states, day counters,
    explanations) as "other records"."""
    counts = {"fills": 0, "trades": 0, "other records": 0}
    for sql, _params in records:
        table = sql.split(None, 3)[2] if sql.startswith("INSERT INTO") else ""
        counts[table if table in ("fills", "trades") else "other records"] += 1
    return {k: n for k, n in counts.items() if n}


def committed_counts(path: Path) -> dict[str, int]:
    """Rows actually on disk (read through a separate connection, as another shell would)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2)
        try:
            return {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("fills", "trades")
            }
        finally:
            conn.close()
    except sqlite3.Error:
        return {}


def tell_now(engine: Any, text: str, *, error: bool = False) -> None:
    """Say something about the journal itself at once: to the log, subscribers and the
    headless printer, and queued for the journal so it is on disk once it works again."""
    from tapedesk.engine.events import Explanation, ExplanationKind
    from tapedesk.engine.journal import explanation_record
    from tapedesk.engine.snapshot import StateChanged

    kind = ExplanationKind.ERROR if error else ExplanationKind.DESK
    e = Explanation(engine.clock.now(), kind, text, "", "", "journal")
    engine.recent.append(e)
    engine._pending.append(explanation_record(e))
    state = StateChanged(engine.snapshot().state, engine._journal_gate or engine._gate)
    for sub in list(engine._subs):
        sub.put(e)
        sub.put(state)
    if engine.on_committed is not None:
        engine.on_committed(e)


def failure_line(engine: Any) -> str:
    """The one line a desk stopping with an unwritable journal ends on ("" if healthy)."""
    health = getattr(engine, "journal_health", None)
    if health is None or not health.failing:
        return ""
    return health.summary(engine._pending, committed_counts(health.path))
