"""Exposure counts every bar a position existed in (a trade inside one bar too), per strategy
as well; ``--no-margin-check`` gives unlimited margin, and every run says how many entries
margin refused. The console script is run as a user runs it."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from tapedesk.engine.backtest import run_backtest
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.exposure import Exposure
from tapedesk.engine.strategy import create

from tests.engine.conftest import bar

# fast=2, slow=3: bar 3's close (102) crosses up; the long fills at bar 4's open (102) with
# its 0.25 % stop at 101.745, and bar 4's low (95) takes it out in the same bar. Bar 4's
# close crosses down; that entry would fill at bar 5's open, and there is no bar 5.
ONE_BAR_TRADE = [(100, 100, 100, 100), (100, 100, 100, 100), (100, 100, 100, 100),
                 (102, 102, 102, 102), (102, 102, 95, 96)]


def _csv(path: Path, rows: list[tuple[float, float, float, float]]) -> Path:
    lines = ["timestamp,open,high,low,close,volume"]
    for i, (o, h, lo, c) in enumerate(rows):
        lines.append(f"2024-01-01 00:{i:02d}:00,{o},{h},{lo},{c},1")
    path.write_text("\n".join(lines) + "\n")
    return path


def _tapedesk(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["tapedesk", "--data-dir", str(tmp_path / "home"), "backtest",
                          "--symbol", "TESTUSDT", "--no-progress", *args],
                         capture_output=True, text=True, timeout=60, check=False)
    assert "Traceback" not in out.stderr
    return out


def test_a_trade_opened_and_closed_inside_one_bar_counts_that_bar(tmp_path: Path) -> None:
    data = _csv(tmp_path / "TESTUSDT_1m.csv", ONE_BAR_TRADE)
    common = ("--data", str(data), "--param", "fast=2", "--param", "slow=3",
              "--fill-at", "next-open", "--slippage-bps", "0", "--fixed-qty", "1", "--no-risk")
    out = _tapedesk(tmp_path, *common, "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    [trade] = doc["trades"]
    got = (Decimal(trade["entry_price"]), Decimal(trade["exit_price"]), trade["reason"])
    assert got[0] == 102 and 101.7 <= got[1] < 102 and got[2] == "stop-loss"
    assert trade["entry_ts"] // 60_000 == trade["exit_ts"] // 60_000  # inside bar 4
    m = doc["metrics"]
    assert (m["bars_in_position"], m["total_bars"], m["exposure_pct"]) == (1, 5, 20.0)
    assert doc["fills"] == 2
    table = _tapedesk(tmp_path, *common)
    assert "exposure               20.0 % of 5 bars" in table.stdout


def test_exposure_counts_each_bar_once_across_reversals_and_symbols() -> None:
    e = Exposure()
    e.mark("", 3, True)  # opened at bar 3's close: bar 3 counts
    e.mark("", 5, False)  # reversed at bar 5: closed ...
    e.mark("", 5, True)  # ... and opened in the same bar, counted once
    assert e.bars("", 7, True) == 5  # bars 3..7, still open
    e.mark("", 8, False)
    e.mark("", 10, True)
    e.mark("", 10, False)  # in and out inside bar 10
    assert e.bars("", 12, False) == 7  # 3..8 and 10
    e.restore(7, 12)  # a checkpoint at bar 12 with a position open
    e.mark("", 15, False)
    assert e.bars("", 20, False) == 10  # 13..15 added


def test_per_strategy_exposure_is_counted() -> None:
    bars = [bar(i, *row) for i, row in enumerate(ONE_BAR_TRADE)]
    strategies = [create("ema_cross", fast=2, slow=3), create("mean_reversion")]
    result = run_backtest(bars, strategies, DeskConfig(), fill_at="next-open",
                          slippage_bps=0.0, fixed_qty=Decimal(1), no_risk=True)
    assert result.per_strategy["ema_cross"].bars_in_position == 1
    assert result.per_strategy["ema_cross"].exposure_pct == pytest.approx(20.0)
    assert result.per_strategy["mean_reversion"].bars_in_position == 0


# The always-in cross of test_ema_reverse: qty 1 at ~100 needs 20 of margin at 5x.
CLOSES = [100.0, 100.0, 100.0, 102.0, 98.0, 101.0, 103.0]


def _research(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    data = _csv(tmp_path / "TESTUSDT_1m.csv", [(c, c, c, c) for c in CLOSES])
    return _tapedesk(tmp_path, "--data", str(data), "--param", "fast=2", "--param", "slow=3",
                     "--param", "reverse=true", "--param", "stop_pct=0", "--fill-at", "close",
                     "--fixed-qty", "1", "--fee-bps", "4", "--slippage-bps", "0",
                     "--funding-bps", "0", "--no-risk", "--initial-balance", "10", *extra)


def test_margin_refusals_are_said_and_no_margin_check_takes_every_entry(tmp_path: Path) -> None:
    starved = _research(tmp_path)
    assert starved.returncode == 0, starved.stderr
    assert "* entries refused for margin: 3\n" in starved.stdout
    assert "or --no-margin-check lifts it" in starved.stdout
    assert "trades                 0 " in starved.stdout

    free = _research(tmp_path, "--no-margin-check")
    assert free.returncode == 0, free.stderr
    assert "* NO MARGIN CHECK (research only: unlimited margin" in free.stdout
    assert "* entries refused for margin: 0 (--no-margin-check)" in free.stdout
    assert "REFUSED" not in free.stdout
    assert "trades                 3 (1 won, 2 lost; 6 fills)" in free.stdout
    assert "net pnl                -5.24" in free.stdout  # test_ema_reverse's hand figures

    doc = json.loads(_research(tmp_path, "--no-margin-check", "--json").stdout)
    assert (doc["margin_check"], doc["refused_for_margin"], doc["fills"]) == (False, 0, 6)
    assert doc["metrics"]["net_pnl"] == pytest.approx(-5.2412, abs=1e-9)
    saved = json.loads(_research(tmp_path, "--json").stdout)
    assert (saved["margin_check"], saved["refused_for_margin"]) == (True, 3)
