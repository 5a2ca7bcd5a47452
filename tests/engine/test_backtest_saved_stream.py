"""The CLI writes the saved result and --json as it encodes them (trades from the compact
trade log, a chunk at a time); the bytes must be those of json.dumps of the whole result
built in memory from the trades themselves."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

from tapedesk.engine.backtest import run_backtest, trade_json
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import create
from tapedesk.engine.trade_log import BLOCK


def test_saved_and_printed_result_equal_the_in_memory_dump(tmp_path: Path) -> None:
    out = subprocess.run(
        ["tapedesk", "--data-dir", str(tmp_path), "backtest", "--data", "sample:1m",
         "--strategy", "ema_cross", "--strategy", "grid", "--no-risk", "--fixed-qty", "0.01",
         "--no-margin-check", "--json"],
        capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    [saved] = (tmp_path / "backtests").glob("*.json")
    result = run_backtest(load_bars(SAMPLE_BARS_1M), [create("ema_cross"), create("grid")],
                          fixed_qty=Decimal("0.01"), no_risk=True, margin_check=False)
    trades = list(result.trades)  # RoundTrip objects, rebuilt from the log
    assert len(trades) > BLOCK, "the trades must span more than one packed block"
    doc = result.to_json()
    doc["trades"] = [trade_json(t) for t in trades]  # from the Decimals, not the log's text
    doc["skipped"] = {}
    assert out.stdout == json.dumps(doc, indent=2, default=str) + "\n"
    text = saved.read_text(encoding="utf-8")
    run = json.loads(text)["run"]
    assert text == json.dumps({"run": run, **doc}, indent=1, default=str)
