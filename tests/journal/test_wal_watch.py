"""A write-ahead log that cannot be folded back (a reader holds it) is reported, once per doubling."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tapedesk.engine.journal_health import WalWatch


def test_a_wal_held_open_by_a_reader_is_reported_once_per_doubling(tmp_path: Path) -> None:
    db = tmp_path / "paper.db"
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x BLOB)")
    writer.commit()
    reader = sqlite3.connect(db)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchall()  # an old snapshot, held open
    watch = WalWatch(db, warn_bytes=256 * 1024, every=1)
    notes = []
    for _ in range(40):
        writer.execute("INSERT INTO t VALUES (?)", (b"x" * 32 * 1024,))
        writer.commit()
        notes.append(watch.after_commit())
    said = [n for n in notes if n]
    assert 1 <= len(said) <= 3, said  # said when it passed 256 KB, again only past double
    assert "paper.db-wal" in said[0] and "open for reading" in said[0]
    reader.rollback()
    reader.close()
    writer.close()


def test_a_small_wal_says_nothing(tmp_path: Path) -> None:
    watch = WalWatch(tmp_path / "paper.db", every=1)
    assert watch.after_commit() == ""  # no WAL file at all
