"""`tapedesk run --headless --replay` (the paper desk): every stop and take-profit the
journal shows fires on the first bar that reaches it, and one that was cancelled was never
reached while it rested — whatever the trigger band skipped. The oracle is the data file
and the journal alone."""

from __future__ import annotations

import sqlite3
import subprocess
from contextlib import closing
from decimal import Decimal
from pathlib import Path

from tapedesk.engine.feeds import load_bars

from tests.engine.helpers import write_sample_csv


def test_every_stop_and_target_fires_on_the_first_bar_that_reaches_it(tmp_path: Path):
    data = write_sample_csv(tmp_path / "btc_1m.csv", days=6)
    home = tmp_path / "home"
    out = subprocess.run(["tapedesk", "--data-dir", str(home), "run", "--headless",
                          "--replay", str(data), "--speed", "0"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    bars = load_bars(data)
    with closing(sqlite3.connect(home / "paper.db")) as db:
        rows = db.execute("SELECT client_id, ts, side, role, stop_price, status, updated_ts "
                          "FROM orders WHERE role IN ('stop', 'take_profit')").fetchall()
    fired = checked = 0
    for cid, ts, side, role, stop, status, updated in rows:
        level = float(Decimal(stop))
        rises = (side == "BUY") == (role == "stop")  # a short's stop, a long's target

        def reached(b, level=level, rises=rises) -> bool:
            return b.high >= level if rises else b.low <= level

        # A stop placed mid-bar (by the entry's fill at its open) watches the rest of it;
        # a target waits for the next bar.
        first = ts if role == "stop" else ts + 1
        hits = [b.ts for b in bars if b.ts >= first and reached(b)]
        if status == "FILLED":
            assert hits and hits[0] == updated, (cid, role, stop, hits[:1], updated)
            fired += 1
        elif status == "CANCELED":
            assert not hits or hits[0] >= updated, (cid, role, stop, hits[0], updated)
            checked += 1
    assert fired >= 2 and checked >= 10, (fired, checked)
