"""The wall-clock watch of a live desk: stale market data and the order owner's timers.

Runs every half second beside the feed. Data older than ``risk.stale_after_s`` closes the
risk gate (strategies are not asked) until it is fresh again; retries and the unprotected
grace period run here too, because a dead feed must not keep an unprotected position open.
"""

from __future__ import annotations

import time
from typing import Any

from tapedesk.engine.clock import EventClock
from tapedesk.engine.events import ExplanationKind
from tapedesk.engine.snapshot import FeedStatus

PERIOD_S = 0.5


async def watch(engine: Any) -> None:
    import asyncio

    if getattr(engine.feed, "status", None) == FeedStatus.REPLAY or isinstance(
        engine.clock, EventClock
    ):
        return
    was_stale = False
    while True:
        await asyncio.sleep(PERIOD_S)
        due = engine.orders.next_due
        engine.orders.tick(engine.clock.now())
        if engine.orders.next_due != due or engine._pending:
            await engine.commit()
        if engine._last_rx_wall is None:
            continue
        age = time.monotonic() - engine._last_rx_wall
        stale = age > engine.config.risk.stale_after_s
        if stale == was_stale:
            continue
        was_stale = stale
        engine._stale_s = age if stale else None
        engine._update_gate()
        engine.feed_status = (
            FeedStatus.STALE if stale else getattr(engine.feed, "status", FeedStatus.LIVE)
        )
        engine.explain(
            ExplanationKind.ERROR if stale else ExplanationKind.DESK,
            f"Market data STALE ({age:.1f} s): strategies not asked."
            if stale
            else "Market data fresh again.",
        )
        engine._announce()
        await engine.commit()
