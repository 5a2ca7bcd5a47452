"""The desk as a reader sees it: one immutable ``DeskSnapshot`` built from the engine's parts.

Kept apart from the loop so the engine holds routing only; the TUI, ``tapedesk status`` and
the control channel all read this one picture.
"""

from __future__ import annotations

import time
from typing import Any

from tapedesk.engine.snapshot import DayStats, DeskSnapshot, DeskState, FeedStatus


def desk_snapshot(engine: Any) -> DeskSnapshot:
    cfg = engine.config.risk
    d = engine.day
    now = engine.clock.now()
    if engine.halted:
        state = DeskState.HALTED
    elif d.locked:
        state = DeskState.DAY_LOCKED
    elif engine.paused:
        state = DeskState.PAUSED
    else:
        state = DeskState.RUNNING
    age = None
    if engine._last_rx_wall is not None and engine.feed_status not in (
        FeedStatus.REPLAY,
        FeedStatus.ENDED,
    ):
        age = int((time.monotonic() - engine._last_rx_wall) * 1000)
    elif engine._last_event_ts:
        age = max(0, now - engine._last_event_ts)
    unreal = engine.unrealized()
    return DeskSnapshot(
        mode=engine.mode,
        state=state,
        paused=engine.paused,
        halted=engine.halted,
        symbols=tuple(engine.config.symbols),
        now_ts=now,
        next_reset_ts=engine.days.next_reset(now),
        day=DayStats(
            d.day,
            d.trades,
            d.losses,
            d.realized_pnl,
            d.fees,
            d.locked,
            d.lock_reason,
            max(0, cfg.max_trades_per_day - d.trades),
            max(0, cfg.max_losing_trades_per_day - d.losses),
        ),
        balance=engine.wallet(),
        equity=engine.wallet() + unreal,
        unrealized_pnl=unreal,
        positions=dict(engine.book.positions),
        last_prices=dict(getattr(engine.venue, "last_price", {})),
        feed_status=engine.feed_status,
        data_age_ms=age,
        strategies=engine.roster.statuses(),
        venue=getattr(engine.venue, "name", "?"),
        api_weight=getattr(engine.venue, "api_weight", None),
        extra={"gate": engine._gate},
        unprotected=engine.orders.unprotected(),
        journal_error=engine._journal_gate,
    )
