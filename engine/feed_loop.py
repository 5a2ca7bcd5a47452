"""How the engine starts and consumes its feed (a mixin of ``Engine``).

``start`` opens the journal and restores what must survive a restart (checkpoint, the day's
counters, journaled fills, reconciliation with a real venue) before any event; ``run`` feeds
the events to ``Engine.process`` a batch at a time and commits after each batch, so what a
batch decided is on disk before anyone is told. A backtest uses neither: it calls
``process`` in its own loop.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from tapedesk.engine import strategy_state
from tapedesk.engine.checkpoint import journaled_fills, load_from_journal
from tapedesk.engine.events import ExplanationKind
from tapedesk.engine.journal_health import JournalFailure, committed_counts
from tapedesk.engine.snapshot import FeedStatus


class FeedLoop:
    """Start-up and the feed's loop; the state they touch is the engine's."""

    # Provided by Engine.
    journal: Any
    clock: Any
    orders: Any
    venue: Any
    feed: Any
    journal_health: Any
    roster: Any
    halted: bool
    companions: Any
    source_id: Any
    explain: Any
    process: Any
    commit: Any

    async def start(self) -> None:
        """Open the journal and restore what must survive a restart.

        A corrupt or unwritable journal raises ``JournalError`` (one plain sentence) before
        anything else happens.
        """
        if self._started:
            return
        self._started = True
        ck = await load_from_journal(self) if self.journal is not None else None
        now = self.clock.now()
        if now:
            await self._load_day(now)
        self.orders.track_open(await journaled_fills(self, list(self.orders.open)))
        await self.venue.start()
        if not getattr(self.venue, "simulated", True):
            await self._account()
            await self._reconcile()
        self.orders.protect_all()
        self._rebuild_handlers()
        if ck is not None and self.source_id:  # replays only: missed live data is gone
            self._resume_pos, self._cold, note = strategy_state.resume(self, ck)
            if note:
                self.explain(ExplanationKind.DESK, note)
        self._pending.append(self.roster.record())
        if self._control_path is not None:
            from tapedesk.engine.control import ControlServer

            self._control = ControlServer(self, self._control_path)
            await self._control.start()
            from tapedesk.engine.companions import start_companions

            self.companions = await start_companions(self)
        if self.halted:
            self.explain(
                ExplanationKind.DESK,
                "Desk starts HALTED (emergency stop was not "
                "resumed): no new entries until you resume explicitly.",
            )

    async def run(self) -> None:
        """Consume the feed until it ends or ``stop()``; commit after every batch."""
        import asyncio

        self._run_task = asyncio.current_task()
        await self.start()
        if self.feed is None:
            return
        self.feed_status = getattr(self.feed, "status", FeedStatus.LIVE)
        watchdog = asyncio.create_task(self._watch_staleness())
        health = self.journal_health
        look_at = 0.0
        try:
            async for batch in self.feed.batches():
                self._last_rx_wall = time.monotonic()
                self.feed_status = getattr(self.feed, "status", FeedStatus.LIVE)
                # Replays resume after the exact event the checkpoint holds (two events can
                # share a millisecond); live feeds and old checkpoints go by timestamp.
                pos, skip, cursor = self._feed_pos, self._resume_pos, self._resume_cursor
                for ev in batch:
                    pos += 1
                    if pos <= skip or (skip < 0 and ev.ts <= cursor):
                        self._warm(ev)
                    else:
                        self.process(ev)
                self._feed_pos = pos
                if self._pending or self._outbox:
                    await self.commit()
                elif health is not None and time.monotonic() >= look_at:
                    look_at = time.monotonic() + 2.0  # a quiet desk still notices a deleted file
                    if self.journal is not None and self.journal.moved():
                        await self.commit(force=True)
                if health is not None and health.gave_up:
                    raise JournalFailure(
                        health.summary(self._pending, committed_counts(health.path))
                    )
                if self._stopping:
                    break
            self.feed_status = getattr(self.feed, "status", FeedStatus.ENDED)
        finally:
            watchdog.cancel()
            with contextlib.suppress(BaseException):
                await watchdog
            await self.commit()
            for delay in (0.5, 1.0, 2.0) if health is not None and health.failing else ():
                await asyncio.sleep(delay)  # a last chance before the desk gives up
                await self.commit(force=True)
                if not health.failing:
                    break
