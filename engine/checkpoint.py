"""What the engine writes with every journal batch so a restart continues where it stopped.

The checkpoint holds the feed cursor, the venue's state (paper) and the desk's books: open
positions with their stop/target/risk, and the order owner's open orders *exactly* as sent
(type, side, trigger, quantity, role, client id), so after a restart the desk recognises
its own stop and target on the exchange and their fills.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tapedesk.engine.equity_history import EquityHistory
from tapedesk.engine.events import ExplanationKind, Fill, Position
from tapedesk.engine.journal import TRADE_COLUMNS, row_to_trade
from tapedesk.engine.journal_health import JournalHealth
from tapedesk.engine.paper_venue import _pos_from_dict, _pos_to_dict
from tapedesk.engine.records import FILL_COLUMNS, fill_key, row_to_fill


def checkpoint(engine: Any) -> dict[str, Any]:
    to_state = getattr(engine.venue, "to_state", None)
    return {
        "source": engine.source_id,
        "cursor_ts": engine._last_event_ts,
        "venue_state": to_state() if to_state else {},
        "engine_state": {
            "balance": str(engine.balance),
            "fees_total": str(engine.fees_total),
            "funding_total": str(engine.funding_total),
            "positions": [position_state(p) for p in engine.book.positions.values()],
            "order_book": engine.orders.state(),
            # Symbols with open quantity and no acknowledged stop (``status`` shows them).
            "unprotected": list(engine.orders.unprotected()),
            "bars_seen": engine.bars_seen,
            "bars_in_position": engine.bars_in_position,
        },
    }


def restore(engine: Any, ck: dict[str, Any]) -> None:
    es = ck["engine_state"]
    engine.balance = Decimal(es.get("balance", str(engine.balance)))
    engine.fees_total = Decimal(es.get("fees_total", "0"))
    engine.funding_total = Decimal(es.get("funding_total", "0"))
    engine.bars_seen = int(es.get("bars_seen", 0))
    engine.bars_in_position = int(es.get("bars_in_position", 0))
    for p in es.get("positions", []):
        pos = _pos_from_dict(p)
        pos.stop_loss = Decimal(p["stop"]) if p.get("stop") else None
        pos.take_profit = Decimal(p["tp"]) if p.get("tp") else None
        pos.risk_amount = Decimal(p.get("risk", "0"))
        engine.book.positions[pos.symbol] = pos
    load = getattr(engine.venue, "load_state", None)
    if load and ck.get("venue_state"):
        load(ck["venue_state"])
    engine._resume_cursor = int(ck["cursor_ts"])
    engine._last_event_ts = engine._resume_cursor
    engine.clock.observe(engine._resume_cursor)
    engine.orders.restore(es.get("order_book", {}))
    engine.explain(
        ExplanationKind.DESK,
        "Resumed from the journal: events up to "
        f"{engine._resume_cursor} were already processed and are only replayed to "
        "warm up strategies.",
    )


def position_state(p: Position) -> dict[str, Any]:
    d = _pos_to_dict(p)
    d.update(stop=_s(p.stop_loss), tp=_s(p.take_profit), risk=str(p.risk_amount))
    return d


def _s(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


async def load_from_journal(engine: Any) -> dict[str, Any] | None:
    """A desk's start: flags, strategy switches, trades, the checkpoint (restored when it is
    this source's), recent explanations and the equity curve, from its journal. Returns the
    checkpoint restored, or None."""
    journal = engine.journal
    await journal.open()
    jcfg = getattr(engine.config, "journal", None)
    engine.journal_health = JournalHealth(journal.path, getattr(jcfg, "give_up_after_s", 600.0))
    engine.halted = (await journal.get_setting("halted")) == "1"
    engine.paused = (await journal.get_setting("paused")) == "1"
    await engine._restore_added_strategies()  # loaded from the desk: before their switches
    for strat in engine.strategies:
        flag = await journal.get_setting(f"strategy.{strat.name}.enabled")
        if flag is not None:
            engine._strat[strat.name].enabled = flag == "1"
    rows = await journal.fetchall(f"SELECT {TRADE_COLUMNS} FROM trades ORDER BY id")
    engine.trades = [row_to_trade(r) for r in rows]
    # The engine numbers trades (RoundTrip.id) so the desk shows the id --id takes at once.
    engine.portfolio.next_trade_id = max((t.id for t in engine.trades), default=0) + 1
    ck = await journal.load_checkpoint()
    if ck and (not engine.source_id or ck["source"] == engine.source_id):
        engine._restore(ck)
    else:
        ck = None
    for e in await engine.recent_explanations(200):
        engine.recent.append(e)
    eq = await journal.fetchall("SELECT ts, equity FROM equity ORDER BY ts")
    engine.equity_samples = EquityHistory((int(t), float(v)) for t, v in eq)
    if engine.equity_samples:  # the next sample falls where it would have
        engine._last_sample = engine.equity_samples[-1][0]
    return ck


async def journaled_fills(engine: Any, client_ids: list[str]) -> list[Fill]:
    """Fills the journal holds for restored open orders: the venue must not report them
    again, and a duplicate that still arrives is dropped by ``Engine.on_fill``."""
    if engine.journal is None or not client_ids:
        return []
    marks = ",".join("?" * len(client_ids))
    rows = await engine.journal.fetchall(
        f"SELECT {FILL_COLUMNS} FROM fills WHERE client_id IN ({marks})", tuple(client_ids))
    fills = [row_to_fill(r) for r in rows]
    engine._fills_seen.update(fill_key(f) for f in fills)
    return fills
