"""The durable journal: one SQLite file per mode, WAL, versioned schema, bound parameters.

The engine hands the journal a batch of records plus a checkpoint (feed cursor and venue
state) and the journal writes them in ONE transaction, before anyone is told about them:
after a crash the database holds either all of a batch or none of it, so a restarted
replay neither loses nor repeats a fill (fills also carry a UNIQUE key to prove it).

Readers (``tapedesk status`` / ``trades`` from another shell) use plain sqlite3 in
read-only mode; WAL lets them read while a desk is writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
from tapedesk.engine.events import Explanation, ExplanationKind, RoundTrip, Side
from tapedesk.engine.journal_health import (
    RETRY_BUSY_MS,
    JournalCorrupt,
    JournalError,
    corrupt_message,
    describe,
    file_identity,
)

MIGRATIONS: list[str] = [
    # v1
    """
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE daily_state (
        day TEXT PRIMARY KEY, trades INTEGER NOT NULL, losses INTEGER NOT NULL,
        realized_pnl TEXT NOT NULL, fees TEXT NOT NULL, locked INTEGER NOT NULL,
        lock_reason TEXT NOT NULL);
    CREATE TABLE orders (
        client_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, symbol TEXT NOT NULL,
        side TEXT NOT NULL, type TEXT NOT NULL, qty TEXT NOT NULL, price TEXT,
        stop_price TEXT, reduce_only INTEGER NOT NULL, role TEXT NOT NULL,
        strategy TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
        updated_ts INTEGER NOT NULL);
    CREATE TABLE fills (
        id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, seq INTEGER NOT NULL,
        trade_id TEXT NOT NULL, ts INTEGER NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
        qty TEXT NOT NULL, price TEXT NOT NULL, fee TEXT NOT NULL, liquidity TEXT NOT NULL,
        role TEXT NOT NULL, UNIQUE (client_id, seq, trade_id));
    CREATE TABLE trades (
        id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
        entry_price TEXT NOT NULL, exit_price TEXT NOT NULL, entry_ts INTEGER NOT NULL,
        exit_ts INTEGER NOT NULL, gross_pnl TEXT NOT NULL, fees TEXT NOT NULL,
        funding TEXT NOT NULL, pnl TEXT NOT NULL, strategy TEXT NOT NULL,
        reason TEXT NOT NULL, risk_amount TEXT NOT NULL);
    CREATE INDEX trades_exit_ts ON trades (exit_ts);
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, strategy TEXT NOT NULL,
        symbol TEXT NOT NULL, side TEXT NOT NULL, kind TEXT NOT NULL,
        accepted INTEGER NOT NULL, rule TEXT NOT NULL, text TEXT NOT NULL,
        numbers TEXT NOT NULL);
    CREATE TABLE explanations (
        id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
        strategy TEXT NOT NULL, symbol TEXT NOT NULL, rule TEXT NOT NULL);
    CREATE TABLE funding (
        id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, symbol TEXT NOT NULL,
        amount TEXT NOT NULL, rate REAL NOT NULL);
    CREATE TABLE equity (ts INTEGER NOT NULL, equity REAL NOT NULL);
    CREATE TABLE checkpoint (
        id INTEGER PRIMARY KEY CHECK (id = 1), source TEXT NOT NULL, cursor_ts INTEGER NOT NULL,
        venue_state TEXT NOT NULL, engine_state TEXT NOT NULL);
    """,
    # v2: strategies' own state rides with the checkpoint (engine.strategy_state)
    "ALTER TABLE checkpoint ADD COLUMN strategy_state BLOB",
    # v3: rows name the position they belong to (the client id of the order that opened it),
    # so a trade's story is read by id, not guessed from symbol and time (trade_story.py).
    # Rows written before v3 keep '' and their story says what cannot be tied to them.
    """
    ALTER TABLE trades ADD COLUMN position_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE decisions ADD COLUMN position_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE orders ADD COLUMN position_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE fills ADD COLUMN position_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE explanations ADD COLUMN position_id TEXT NOT NULL DEFAULT '';
    CREATE INDEX decisions_position ON decisions (position_id);
    CREATE INDEX orders_position ON orders (position_id);
    CREATE INDEX fills_position ON fills (position_id);
    CREATE INDEX explanations_position ON explanations (position_id);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
#: The first schema whose rows carry ``position_id``.
POSITION_LINKS_VERSION = 3
Record = tuple[str, tuple[Any, ...]]
BUSY_MS = 5000  # how long a write waits for another process's lock before it counts as failed


def db_path(data_dir: Path, mode: str) -> Path:
    return Path(data_dir) / f"{mode}.db"


class Journal:
    """Async writer. ``write`` is the only way records reach the disk."""

    def __init__(self, path: Path) -> None:
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


# -- record builders (SQL lives here, next to the schema) --------------------------------


def setting_record(key: str, value: str) -> Record:
    return (
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def day_record(
    day: str, trades: int, losses: int, pnl: Decimal, fees: Decimal, locked: bool, reason: str
) -> Record:
    return (
        "INSERT INTO daily_state (day, trades, losses, realized_pnl, fees, locked, lock_reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(day) DO UPDATE SET trades=excluded.trades,"
        " losses=excluded.losses, realized_pnl=excluded.realized_pnl, fees=excluded.fees,"
        " locked=excluded.locked, lock_reason=excluded.lock_reason",
        (day, trades, losses, str(pnl), str(fees), int(locked), reason),
    )


def explanation_record(e: Explanation) -> Record:
    return (
        "INSERT INTO explanations (ts, kind, text, strategy, symbol, rule, position_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (e.ts, str(e.kind), e.text, e.strategy, e.symbol, e.rule, e.position_id),
    )


def trade_record(t: RoundTrip) -> Record:
    return (
        "INSERT INTO trades (symbol, side, qty, entry_price, exit_price, entry_ts, exit_ts, "
        "gross_pnl, fees, funding, pnl, strategy, reason, risk_amount, id, position_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            t.symbol,
            str(t.side),
            str(t.qty),
            str(t.entry_price),
            str(t.exit_price),
            t.entry_ts,
            t.exit_ts,
            str(t.gross_pnl),
            str(t.fees),
            str(t.funding),
            str(t.pnl),
            t.strategy,
            t.reason,
            str(t.risk_amount),
            t.id or None,  # None: SQLite numbers it
            t.position_id,
        ),
    )


def row_to_trade(r: tuple[Any, ...]) -> RoundTrip:
    return RoundTrip(
        symbol=r[0],
        side=Side(r[1]),
        qty=Decimal(r[2]),
        entry_price=Decimal(r[3]),
        exit_price=Decimal(r[4]),
        entry_ts=r[5],
        exit_ts=r[6],
        gross_pnl=Decimal(r[7]),
        fees=Decimal(r[8]),
        funding=Decimal(r[9]),
        pnl=Decimal(r[10]),
        strategy=r[11],
        reason=r[12],
        risk_amount=Decimal(r[13]),
        id=int(r[14]),
        position_id=r[15],
    )


TRADE_COLUMNS = (
    "symbol, side, qty, entry_price, exit_price, entry_ts, exit_ts, gross_pnl, fees, "
    "funding, pnl, strategy, reason, risk_amount, id, position_id"
)


def trade_columns(version: int) -> str:
    """``TRADE_COLUMNS`` as a journal at schema ``version`` can answer them: a read-only
    reader (``tapedesk trades``) cannot migrate an old journal, so missing links read ''."""
    if version >= POSITION_LINKS_VERSION:
        return TRADE_COLUMNS
    return TRADE_COLUMNS.replace("position_id", "'' AS position_id")


def row_to_explanation(r: tuple[Any, ...]) -> Explanation:
    return Explanation(r[0], ExplanationKind(r[1]), r[2], r[3], r[4], r[5])


# -- read-only access for other processes (CLI status/trades) ----------------------------


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
