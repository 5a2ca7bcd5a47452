"""The journal's schema: the migrations ``Journal.open`` applies past the file's
``user_version``, and the column lists that depend on that version (a read-only reader
cannot migrate an old journal, so it asks only for what the file has).
"""

from __future__ import annotations

from pathlib import Path

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


def db_path(data_dir: Path, mode: str) -> Path:
    return Path(data_dir) / f"{mode}.db"


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
