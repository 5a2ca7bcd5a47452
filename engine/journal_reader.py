"""Read-only access to a journal for other processes (CLI ``status`` / ``trades``): plain
sqlite3, WAL, so reading never blocks the desk that writes it; every SQLite error becomes one
sentence naming the file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from tapedesk.engine.journal_health import JournalCorrupt, JournalError, corrupt_message


def open_readonly(path: Path) -> sqlite3.Connection:
    """Read a journal that a running desk may be writing (WAL readers never block it).

    A damaged file raises ``JournalCorrupt`` naming it, from the open or from any later
    query (corruption inside a page only shows when that page is read).
    """
    if not Path(path).exists():
        raise FileNotFoundError(f"no journal at {path}: has a desk run in this mode yet?")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5, factory=_Reader)
    conn.journal_path = Path(path)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except JournalError:
        conn.close()
        if os.access(Path(path).parent, os.W_OK):
            raise
        # A read-only directory (a read-only mount, a backup): a WAL reader cannot make its
        # -shm file there. No desk can be writing it, so read it as an unchanging file.
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, factory=_Reader)
        conn.journal_path = Path(path)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def _reader_error(path: Path, exc: sqlite3.DatabaseError) -> JournalError:
    if "locked" in str(exc) or "busy" in str(exc):
        return JournalError(f"journal {path} is locked by another process")
    return JournalCorrupt(corrupt_message(path, str(exc)))


class _ReaderCursor(sqlite3.Cursor):
    """Turns SQLite's errors into one plain sentence naming the journal."""

    def _run(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except sqlite3.DatabaseError as exc:
            raise _reader_error(self.connection.journal_path, exc) from None  # type: ignore[attr-defined]

    def execute(self, sql: str, params: Any = ()) -> _ReaderCursor:  # type: ignore[override]
        return self._run(super().execute, sql, params)

    def fetchone(self) -> Any:
        return self._run(super().fetchone)

    def fetchall(self) -> list[Any]:
        return self._run(super().fetchall)

    def __next__(self) -> Any:
        return self._run(super().__next__)


class _Reader(sqlite3.Connection):
    journal_path: Path

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:  # type: ignore[override]
        return _ReaderCursor(self).execute(sql, params)
