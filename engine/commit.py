"""The engine's commit: queued records written in one transaction, then announced.

Kept out of the loop module because journal trouble has its own rules (issue: journal
trouble is a desk state, not a crash): a failed write keeps every record, stops new entries
and is retried with backoff, and nothing is announced before it is on disk.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tapedesk.engine import strategy_state
from tapedesk.engine.journal_health import JournalError, describe, tell_now


async def commit(engine: Any, force: bool = False) -> None:
    """Write queued records (one transaction), then announce them. Never raises.

    A failed write keeps every record queued, in order, and stops new entries until a
    retry (with backoff; ``force`` ignores it) succeeds; protection and the emergency
    stop never wait for it. Nothing queued is announced before it is on disk: only the
    journal's own trouble is told at once (engine.journal_health says why).
    """
    journal, health = engine.journal, engine.journal_health
    if journal is None or health is None or journal._db is None:
        records, engine._pending = engine._pending, []
        outbox, engine._outbox = engine._outbox, []
        if journal is not None and (records or outbox) and journal._db is not None:
            await journal.write(records, engine._checkpoint())
    else:
        async with journal.lock:  # one commit at a time: held records keep their order
            if not (force or engine._pending or engine._outbox or health.failing):
                return
            if not (force or health.due()):
                return
            records, engine._pending = engine._pending, []
            outbox, engine._outbox = engine._outbox, []
            ck = engine._checkpoint()
            ck["engine_state"]["feed_pos"] = engine._feed_pos
            if engine.source_id:
                ck["strategy_state"] = strategy_state.dump(engine)
            try:
                await journal.write_held(records, ck)
            except (JournalError, sqlite3.Error, OSError) as exc:
                engine._pending[:0] = records
                engine._outbox[:0] = outbox
                cause = str(exc) if isinstance(exc, JournalError) else describe(exc, journal.path)
                engine._journal_gate = f"journal error: {cause}"
                if health.failed(cause):
                    await journal.set_busy_timeout(True)
                    tell_now(engine, health.outage_text(len(engine._pending)), error=True)
                return
            if health.failing:
                lasted = health.recovered()
                engine._journal_gate = ""
                await journal.set_busy_timeout(False)
                tell_now(
                    engine,
                    f"Journal writable again after {lasted:.0f} s: {len(records)} held "
                    "record(s) committed; new entries allowed.",
                )
    hook = engine.on_committed
    for item in outbox:
        for sub in engine._subs:
            sub.put(item)
        if hook is not None:
            hook(item)
