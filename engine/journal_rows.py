"""Journal rows <-> events: the INSERTs the engine batches into ``Journal.write`` and the
readers that turn selected rows back into events (SQL lives next to the schema's columns;
parameters always bound).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tapedesk.engine.events import Explanation, ExplanationKind, RoundTrip, Side

Record = tuple[str, tuple[Any, ...]]


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


def row_to_trade(r: tuple[Any, ...] | list[str]) -> RoundTrip:
    """A trade from its 16 fields in ``RoundTrip`` order: a journal row, or a TradeLog
    line's texts (engine/trade_log.py), whose times and id are text."""
    return RoundTrip(
        symbol=r[0],
        side=Side(r[1]),
        qty=Decimal(r[2]),
        entry_price=Decimal(r[3]),
        exit_price=Decimal(r[4]),
        entry_ts=int(r[5]),
        exit_ts=int(r[6]),
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


def row_to_explanation(r: tuple[Any, ...]) -> Explanation:
    return Explanation(r[0], ExplanationKind(r[1]), r[2], r[3], r[4], r[5])
