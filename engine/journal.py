"""The durable journal: one SQLite file per mode, WAL, versioned schema, bound parameters.

The engine hands the journal a batch of records plus a checkpoint (feed cursor and venue
state) and the journal writes them in ONE transaction, before anyone is told about them:
after a crash the database holds either all of a batch or none of it, so a restarted
replay neither loses nor repeats a fill (fills also carry a UNIQUE key to prove it).

Readers (``tapedesk status`` / ``trades`` from another shell) use plain sqlite3 in
read-only mode (``journal_reader``); WAL lets them read while a desk is writing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tapedesk.engine.journal_health import (
    RETRY_BUSY_MS,
    JournalCorrupt,
    JournalError,
    corrupt_message,
    describe,
    file_identity,
)

# The schema, the row <-> event mapping and other processes' reads have modules of their own;
# engine.py, orders.py, checkpoint.py, the CLI and tests import them from here.
from tapedesk.engine.journal_reader import open_readonly
from tapedesk.engine.journal_rows import (
    Record,
    day_record,
    explanation_record,
    row_to_explanation,
    row_to_trade,
    setting_record,
    trade_record,
)
from tapedesk.engine.journal_schema import (
    MIGRATIONS,
    POSITION_LINKS_VERSION,
    SCHEMA_VERSION,
    TRADE_COLUMNS,
    db_path,
    trade_columns,
)

if TYPE_CHECKING:
    import aiosqlite

__all__ = [
    "MIGRATIONS", "POSITION_LINKS_VERSION", "SCHEMA_VERSION", "TRADE_COLUMNS", "Journal",
    "Record", "day_record", "db_path", "explanation_record", "open_readonly",
    "row_to_explanation", "row_to_trade", "setting_record", "trade_columns", "trade_record",
]

BUSY_MS = 5000  # how long a write waits for another process's lock before it counts as failed


class Journal:
    """Async writer. ``write`` is the only way records reach the disk."""

    def __init__(self, path: Path) -> None:
        import asyncio

        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self.identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        # The engine loop and an emergency stop may commit at the same moment; SQLite
        # transactions on one connection must not interleave.
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        """Open (or create) the journal; a corrupt or unwritable file is refused in one line.

        ``PRAGMA quick_check`` runs first: trading on a damaged journal would silently lose
        the very records a restart needs. SIGXFSZ is ignored so a file-size limit
        (``ulimit -f``) becomes a write error the desk reports instead of a silent kill.
        """
        with contextlib.suppress(ValueError, AttributeError):  # not the main thread
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        try:
            await self._open()
            await self._check()
            await self._migrate()
        except JournalError:
            await self.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            if any(w in str(exc) for w in ("not a database", "malformed", "corrupt")):
                raise JournalCorrupt(corrupt_message(self.path, str(exc))) from None
            raise JournalError(
                f"cannot open journal {self.path}: {describe(exc, self.path)}"
            ) from None
        self.identity = file_identity(self.path)

    async def _open(self) -> None:
        import aiosqlite  # here: a backtest (no journal) never loads it

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        old = os.umask(0o077)  # the -wal and -shm files are created owner-only too
        try:
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = aiosqlite.connect(self.path)
            try:
                self._db = await conn
            except BaseException:
                conn.stop()  # its worker thread would otherwise keep the process alive
                raise
            await self._db.execute(f"PRAGMA busy_timeout={BUSY_MS}")
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=FULL")
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def _check(self) -> None:
        rows = await self.fetchall("PRAGMA quick_check(3)")
        lines = [ln for r in rows for ln in str(r[0]).splitlines()]
        problems = [ln.strip() for ln in lines if ln != "ok" and not ln.startswith("***")]
        if problems:
            raise JournalCorrupt(corrupt_message(self.path, "; ".join(problems[:2])))

    def moved(self) -> str:
        """Empty while the path still names the file we have open, else what happened to it.

        SQLite keeps writing to an unlinked inode without complaint, so a journal deleted
        or replaced under a running desk would lose everything silently.
        """
        now = file_identity(self.path)
        if now == self.identity:
            return ""
        if now is None:
            return f"{self.path.name} was deleted under the running desk"
        return f"{self.path.name} was replaced by another file under the running desk"

    async def set_busy_timeout(self, failing: bool) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error, OSError, ValueError):
                ms = RETRY_BUSY_MS if failing else BUSY_MS
                await self._db.execute(f"PRAGMA busy_timeout={ms}")

    async def _migrate(self) -> None:
        db = self._conn()
        version = (await (await db.execute("PRAGMA user_version")).fetchone())[0]
        for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await db.executescript(f"BEGIN; {script}; PRAGMA user_version={i}; COMMIT;")

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("journal is not open")
        return self._db

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error, OSError, ValueError):
                await db.close()

    async def write(
        self, records: Iterable[Record], checkpoint: dict[str, Any] | None = None
    ) -> None:
        """All records (and the checkpoint) in one transaction: all or nothing."""
        async with self.lock:
            await self._write(records, checkpoint)

    async def write_held(
        self, records: Iterable[Record], checkpoint: dict[str, Any] | None = None
    ) -> None:
        """``write`` for a caller already holding ``lock`` (the engine's commit)."""
        await self._write(records, checkpoint)

    async def _write(self, records: Iterable[Record], checkpoint: dict[str, Any] | None) -> None:
        why = self.moved()
        if why:  # never write into a file nobody can find again
            raise JournalError(why)
        db = self._conn()
        await db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in records:
                await db.execute(sql, params)
            if checkpoint is not None:
                await db.execute(
                    "INSERT INTO checkpoint (id, source, cursor_ts, venue_state, engine_state, "
                    "strategy_state) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "source=excluded.source, cursor_ts=excluded.cursor_ts, "
                    "venue_state=excluded.venue_state, engine_state=excluded.engine_state, "
                    "strategy_state=excluded.strategy_state",
                    (
                        checkpoint["source"],
                        checkpoint["cursor_ts"],
                        json.dumps(checkpoint["venue_state"]),
                        json.dumps(checkpoint["engine_state"]),
                        checkpoint.get("strategy_state"),
                    ),
                )
            await db.commit()
        except BaseException:
            with contextlib.suppress(sqlite3.Error, OSError, ValueError):
                await db.rollback()
            raise

    async def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = await self._conn().execute(sql, params)
        return list(await cur.fetchall())

    async def get_setting(self, key: str) -> str | None:
        rows = await self.fetchall("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    async def load_checkpoint(self) -> dict[str, Any] | None:
        rows = await self.fetchall(
            "SELECT source, cursor_ts, venue_state, engine_state, strategy_state "
            "FROM checkpoint WHERE id = 1"
        )
        if not rows:
            return None
        source, cursor, venue, eng, strat = rows[0]
        return {
            "source": source,
            "cursor_ts": cursor,
            "venue_state": json.loads(venue),
            "engine_state": json.loads(eng),
            "strategy_state": strat,
        }

    async def load_day(self, day: str) -> tuple[Any, ...] | None:
        rows = await self.fetchall(
            "SELECT trades, losses, realized_pnl, fees, locked, lock_reason FROM daily_state "
            "WHERE day = ?",
            (day,),
        )
        return rows[0] if rows else None
