"""Quitting a desk whose journal cannot be written says what is on disk and what is not."""

from __future__ import annotations

import sqlite3
import types
from pathlib import Path

from tapedesk.engine.journal_health import JournalHealth
from tapedesk.tui.launch import _journal_verdict


def test_quit_with_a_failing_journal_prints_the_summary_and_exits_1(tmp_path: Path,
                                                                   capsys) -> None:
    db = tmp_path / "demo.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE fills (x)")
    conn.execute("CREATE TABLE trades (x)")
    conn.execute("INSERT INTO fills VALUES (1)")
    conn.commit()
    conn.close()
    health = JournalHealth(db)
    health.failed("demo.db was deleted under the running desk")
    held = [("INSERT INTO fills (client_id) VALUES (?)", ("a",)),
            ("INSERT INTO trades (symbol) VALUES (?)", ("BTCUSDT",))]
    engine = types.SimpleNamespace(journal_health=health, _pending=held)
    assert _journal_verdict(engine, 0) == 1
    line = capsys.readouterr().err.strip()
    assert line.startswith("tapedesk: journal ") and "\n" not in line
    assert "On disk: 1 fills, 0 trades" in line and "NOT saved: 1 fills, 1 trades" in line


def test_a_healthy_journal_changes_nothing(tmp_path: Path, capsys) -> None:
    engine = types.SimpleNamespace(journal_health=JournalHealth(tmp_path / "x.db"), _pending=[])
    assert _journal_verdict(engine, 0) == 0 and capsys.readouterr().err == ""
