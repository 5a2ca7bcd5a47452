"""What a user runs: `tapedesk backtest` on real BTC data with fees and slippage. A trade that
hits its stop loses about the configured 0.30 % of equity, fees and slippage included (it
lost ~0.45 % when sizing ignored costs), and the decision says so."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tests.engine.helpers import write_sample_csv


@pytest.mark.skipif(shutil.which("tapedesk") is None, reason="console script not installed")
def test_a_stop_out_costs_the_configured_risk_including_fees_and_slippage(tmp_path: Path) -> None:
    data = write_sample_csv(tmp_path / "btc_1m.csv", days=10)
    out = subprocess.run(
        ["tapedesk", "backtest", "--data", str(data), "--json", "--no-progress",
         "--slippage-bps", "1"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    trades = json.loads(out.stdout)["trades"]
    equity = Decimal(10_000)
    stops = []
    for t in trades:
        if t["reason"] == "stop-loss" and Decimal(t["exit_price"]) != 0:
            stops.append(-Decimal(t["pnl"]) / equity * 100)
        equity += Decimal(t["pnl"])
    assert len(stops) >= 3, "the sample must stop out a few times for this to mean anything"
    # Stop fills can slip past the trigger on a gap; none did here, and none may lose more.
    assert all(Decimal("0.28") <= lost <= Decimal("0.31") for lost in stops), stops


@pytest.mark.skipif(shutil.which("tapedesk") is None, reason="console script not installed")
def test_the_taken_explanation_states_the_risk_with_fees(tmp_path: Path) -> None:
    data = write_sample_csv(tmp_path / "btc_1m.csv", days=1)
    home = tmp_path / "home"
    out = subprocess.run(
        ["tapedesk", "--data-dir", str(home), "run", "--headless", "--replay", str(data),
         "--speed", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    taken = [line for line in out.stdout.splitlines() if "Took " in line]
    assert taken, out.stdout[-2000:]
    assert all("= 0.30 % of $" in line and "incl. fees and slippage $" in line
               for line in taken), taken[:3]
