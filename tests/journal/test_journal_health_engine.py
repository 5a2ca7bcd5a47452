"""Inside the engine: a journal that cannot be written stops entries, keeps every record,
announces nothing it has not committed, lets protection and the emergency stop work, and
commits what it held once the journal works again."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from tapedesk.engine.assembly import paper_venue
from tapedesk.engine.clock import EventClock
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import Explanation, ExplanationKind
from tapedesk.engine.journal import Journal
from tapedesk.engine.journal_health import JournalHealth
from tapedesk.engine.snapshot import DeskState

from tests.engine_units._helpers import ScriptedStrategy, bar, long_at_close
from tests.journal.test_journal_faults import LOCKER


def _rows(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
        return conn.execute(sql).fetchall()


async def _desk_in_a_trade(db: Path) -> tuple[Engine, ScriptedStrategy]:
    strat = ScriptedStrategy({5: long_at_close(stop_pct=0.2, target_pct=0.4)})
    cfg = DeskConfig(symbols=["ETHUSDT"])
    eng = Engine(
        config=cfg,
        venue=paper_venue(cfg),
        strategies=[strat],
        journal=Journal(db),
        clock=EventClock(),
        source_id="spec",
    )
    await eng.start()
    for i in range(10):
        eng.process(bar(i, 100, 100.1, 99.95, 100))
    await eng.commit()
    assert eng.book.positions, "the scripted entry must be open for this test to mean anything"
    return eng, strat


async def _hold_lock(db: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db), "120"], stdout=subprocess.PIPE, text=True
    )
    line = await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]
    assert line.strip() == "locked"
    return proc


async def test_locked_journal_stops_entries_keeps_records_and_commits_them_later(
    tmp_path: Path,
) -> None:
    db = tmp_path / "paper.db"
    eng, strat = await _desk_in_a_trade(db)
    try:
        await _locked_then_released(db, eng, strat)
    finally:
        await eng.stop()  # a failing test must not leave aiosqlite's thread running
    texts = [r[0] for r in _rows(db, "SELECT text FROM explanations ORDER BY id")]
    assert any("JOURNAL ERROR" in t for t in texts)  # the outage itself is on record
    assert any("Journal writable again" in t for t in texts)


async def _locked_then_released(db: Path, eng: Engine, strat: ScriptedStrategy) -> None:
    sub = eng.subscribe()
    locker = await _hold_lock(db)
    try:
        eng.process(bar(10, 100, 100.05, 99.0, 99.2))  # the stop-loss fills: a trade closes
        assert len(eng.trades) == 1
        await eng.commit()  # waits the 5 s busy timeout, then fails

        snap = eng.snapshot()
        assert "locked by another process" in snap.journal_error
        assert _rows(db, "SELECT count(*) FROM trades") == [(0,)]
        told = [e for e in sub.drain() if isinstance(e, Explanation)]
        assert [e.kind for e in told] == [ExplanationKind.ERROR]  # only the journal's news
        assert "JOURNAL ERROR" in told[0].text and "New entries stopped" in told[0].text

        calls = strat.calls
        for i in range(11, 20):  # strategies are not asked while the journal is down
            eng.process(bar(i, 100, 100.1, 99.95, 100))
        assert strat.calls == calls

        await asyncio.wait_for(eng.emergency_stop(), 30)  # never waits for the disk
        assert eng.snapshot().state is DeskState.HALTED
        assert await eng.venue.fetch_positions() == {}
    finally:
        locker.kill()
        locker.wait()

    await eng.commit(force=True)
    assert eng.snapshot().journal_error == ""
    assert _rows(db, "SELECT count(*) FROM trades") == [(1,)]
    assert _rows(db, "SELECT value FROM settings WHERE key = 'halted'") == [("1",)]
    told = [e for e in sub.drain() if isinstance(e, Explanation)]
    assert any(e.kind is ExplanationKind.EXIT for e in told)  # announced after its commit
    assert any("Journal writable again" in e.text for e in told)


@pytest.mark.parametrize("how", ["deleted", "replaced by another file"])
async def test_journal_deleted_or_replaced_under_the_desk_is_noticed_and_never_written(
    tmp_path: Path, how: str
) -> None:
    db = tmp_path / "paper.db"
    eng, _ = await _desk_in_a_trade(db)
    try:
        if how == "deleted":
            db.unlink()
        else:
            shutil.copy(db, tmp_path / "other.db")
            os.replace(tmp_path / "other.db", db)
        before = db.read_bytes() if db.exists() else None
        eng.process(bar(10, 100, 100.05, 99.0, 99.2))
        await eng.commit()
        assert f"paper.db was {how} under the running desk" in eng.snapshot().journal_error
        assert eng._pending, "the records are held, not thrown away"
        assert (db.read_bytes() if db.exists() else None) == before
    finally:
        await eng.stop()


def test_backoff_doubles_to_a_ceiling_and_gives_up_after_the_configured_time() -> None:
    h = JournalHealth(Path("/x/paper.db"), give_up_after_s=60)
    assert h.failed("disk full", now=100.0) is True
    assert not h.due(100.4) and h.due(100.5)
    delays = []
    for t in (100.5, 101.5, 103.5, 107.5, 115.5, 130.5):
        assert h.failed("disk full", now=t) is False
        delays.append(h._next_try - t)
    assert delays == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert not h.gave_up
    h.failed("disk full", now=160.0)
    assert h.gave_up
    assert h.recovered() >= 0 and not h.failing and h.error == ""


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (sqlite3.OperationalError("database is locked"), "paper.db is locked by another process"),
        (sqlite3.DatabaseError("database disk image is malformed"), "paper.db is corrupt"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "/x is read-only"),
        (OSError(30, "Read-only file system"), "/x is read-only"),
    ],
)
def test_causes_are_said_in_the_traders_words(exc: BaseException, cause: str) -> None:
    from tapedesk.engine.journal_health import describe

    assert describe(exc, Path("/x/paper.db")) == cause
