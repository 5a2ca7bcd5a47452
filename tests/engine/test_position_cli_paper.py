"""`tapedesk stop-to-breakeven` / `tapedesk close` beside a headless PAPER desk (`tapedesk run
--headless --replay`), all as subprocesses: no keyring needed. The replay is built so the
answer is known: ema_cross goes long on the first rising bar after a flat warm-up, then the
price sits at +10 for thousands of bars, between entry and break-even, so the position stays
open, a move to break-even must be refused, and only the trader's close ends the trade.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.engine.test_desk_cli import Desk, home, td

__all__ = ["home"]
BASE = 50_000.0


def _replay(path: Path) -> Path:
    t0 = datetime(2024, 1, 2, tzinfo=UTC)
    closes = [BASE] * 60 + [BASE + 5, BASE + 10] + [BASE + 10] * 20_000
    lines = ["timestamp,open,high,low,close,volume"]
    prev = BASE
    for i, c in enumerate(closes):
        stamp = (t0 + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S.%f")
        lines.append(f"{stamp},{prev},{max(prev, c)},{min(prev, c)},{c},10")
        prev = c
    path.write_text("\n".join(lines) + "\n")
    return path


def _position(env: dict[str, str], ddir: Path) -> dict | None:
    done = td(env, "--data-dir", str(ddir), "status", "--json", "--mode", "paper")
    return json.loads(done.stdout)["position"] if done.returncode == 0 else None


def test_cli_refuses_break_even_below_it_and_closes_the_paper_position(tmp_path, home):
    config = Path(home["XDG_CONFIG_HOME"]) / "tapedesk" / "config.toml"  # the user's config
    config.parent.mkdir(parents=True)
    config.write_text('[[strategies]]\nname = "ema_cross"\n')
    data = _replay(tmp_path / "flat.csv")
    ddir = tmp_path / "d"
    desk = Desk(home, ddir, data, speed="6000")
    try:
        desk.wait_listening()
        deadline = time.monotonic() + 30
        while (pos := _position(home, ddir)) is None:
            assert desk.proc.poll() is None, desk.proc.communicate()
            assert time.monotonic() < deadline, "no position opened"
            time.sleep(0.1)
        assert pos["side"] == "long" and pos["symbol"] == "BTCUSDT"
        assert pos["strategy"] == "ema_cross"

        refused = td(home, "--data-dir", str(ddir), "stop-to-breakeven", "BTCUSDT")
        assert refused.returncode == 3, refused
        assert "refused: a long stop must be below the price" in refused.stdout
        assert "Nothing sent." in refused.stdout

        closed = td(home, "--data-dir", str(ddir), "close", "BTCUSDT")
        assert closed.returncode == 0, closed
        lines = closed.stdout.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("paper desk (PID ")
        assert "reduce-only market SELL" in lines[0]
        assert "(exit reason manual)" in lines[1]
        trades = json.loads(td(home, "--data-dir", str(ddir), "trades", "--json").stdout)
        assert [t["reason"] for t in trades] == ["manual"]
        assert _position(home, ddir) is None
    finally:
        out, _err = desk.stop()
    with sqlite3.connect(f"file:{ddir / 'paper.db'}?mode=ro", uri=True) as conn:
        orders = conn.execute("SELECT role, side, type, reduce_only, status FROM orders "
                              "WHERE role = 'flatten'").fetchall()
        said = [t for (t,) in conn.execute("SELECT text FROM explanations")]
    assert orders == [("flatten", "SELL", "MARKET", 1, "FILLED")]
    assert any(t.startswith("Stop to break-even on BTCUSDT refused") for t in said)
    assert any(t.startswith("Manual close BTCUSDT (the trader's request)") for t in said)
    assert "Manual close BTCUSDT" in out  # the headless desk prints what it explains
