"""The command line as a user meets it: clear errors, JSON outputs, the control channel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tapedesk.engine.cli import main

from tests.engine.helpers import write_sample_csv

ROOT = Path(__file__).resolve().parents[2]


def test_engine_imports_no_textual() -> None:
    code = (
        "import sys, tapedesk.engine.cli, tapedesk.engine.engine, tapedesk.engine.assembly,"
        " tapedesk.engine.backtest;"
        "assert 'textual' not in sys.modules and 'tapedesk.tui' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_bad_config_names_the_field_and_the_range(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[risk]\nmax_leverage = 200\n")
    assert main(["--config", str(cfg), "backtest", "--data", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "risk.max_leverage" in err and "125" in err
    assert "Traceback" not in err


def test_unknown_strategy_and_bad_param_are_one_line_errors(tmp_path: Path, capsys) -> None:
    data = write_sample_csv(tmp_path / "b.csv", days=1)
    assert main(["backtest", "--data", str(data), "--strategy", "nope"]) == 2
    assert "unknown strategy 'nope'" in capsys.readouterr().err
    assert main(["backtest", "--data", str(data), "--param", "fast=abc"]) == 2
    assert "fast='abc' is not a whole number (int)" in capsys.readouterr().err


def test_backtest_json_has_trades_and_every_metric(tmp_path: Path, capsys) -> None:
    data = write_sample_csv(tmp_path / "b.csv", days=2)
    assert (
        main(
            [
                "backtest",
                "--data",
                str(data),
                "--strategy",
                "ema_cross",
                "--param",
                "fast=9",
                "--fixed-qty",
                "0.01",
                "--json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    m = doc["metrics"]
    for key in (
        "net_pnl",
        "fees",
        "trades",
        "win_rate",
        "profit_factor",
        "expectancy",
        "max_drawdown",
        "max_drawdown_pct",
        "sharpe",
        "sortino",
        "exposure_pct",
    ):
        assert key in m
    assert any("FIXED QTY 0.01" in label for label in doc["labels"])
    t = doc["trades"][0]
    assert {
        "entry_time",
        "exit_time",
        "side",
        "qty",
        "entry_price",
        "exit_price",
        "fees",
        "pnl",
        "reason",
    } <= set(t)
    assert all(tr["qty"] == "0.010" for tr in doc["trades"])


def test_malformed_data_lines_are_skipped_with_a_warning(tmp_path: Path, capsys) -> None:
    data = write_sample_csv(tmp_path / "b.csv", days=1)
    lines = data.read_text().splitlines()
    lines.insert(100, "2022-01-03 01:39:00.000000,not-a-price,1,1,1,1")
    data.write_text("\n".join(lines) + "\n")
    assert main(["backtest", "--data", str(data), "--json"]) == 0
    captured = capsys.readouterr()
    assert "b.csv: skipped 1 row (1 unreadable): line 101: " in captured.err
    assert json.loads(captured.out)["metrics"]["total_bars"] == 1440  # every good line kept


def test_status_and_trades_read_the_journal(tmp_path: Path, capsys) -> None:
    data = write_sample_csv(tmp_path / "b.csv", days=1)
    ddir = tmp_path / "d"
    assert (
        main(["--data-dir", str(ddir), "run", "--headless", "--replay", str(data), "--speed", "0"])
        == 0
    )
    out = capsys.readouterr().out
    assert "Summary (paper" in out and "TAKEN" in out
    assert main(["--data-dir", str(ddir), "status", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["mode"] == "paper" and st["halted"] is False
    assert st["strategies_enabled"] == ["ema_cross"]
    assert st["day"]["trades"] >= 1
    assert main(["--data-dir", str(ddir), "trades", "--csv", "--day", "2022-01-03"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("symbol,side,qty") and len(rows) == st["day"]["trades"] + 1
    assert (ddir / "paper.db").stat().st_mode & 0o777 == 0o600


def test_halt_with_no_desk_running_says_so(tmp_path: Path, capsys) -> None:
    assert main(["--data-dir", str(tmp_path), "halt"]) == 1
    assert "no desk is running" in capsys.readouterr().err


def test_halt_from_another_shell_stops_a_running_desk(tmp_path: Path) -> None:
    data = write_sample_csv(tmp_path / "b.csv", days=3)
    ddir = tmp_path / "d"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "tapedesk.tui.launch", "--data-dir", str(ddir)]
    desk = subprocess.Popen(
        [*base, "run", "--headless", "--replay", str(data), "--speed", "3000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        sock = ddir / "paper.sock"
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sock.exists(), "the desk never opened its control socket"
        assert sock.stat().st_mode & 0o777 == 0o600
        halted = subprocess.run(
            [*base, "halt"], capture_output=True, text=True, env=env, timeout=60
        )
        assert halted.returncode == 0, halted.stderr
        assert "verified flat" in halted.stdout and "HALTED" in halted.stdout
        status = subprocess.run(
            [*base, "status", "--json"], capture_output=True, text=True, env=env, timeout=60
        )
        assert json.loads(status.stdout)["halted"] is True
    finally:
        desk.terminate()
        out, _ = desk.communicate(timeout=60)
    assert "EMERGENCY STOP" in out


@pytest.mark.parametrize("argv", [["trades"], ["status"]])
def test_readers_without_a_journal_explain(tmp_path: Path, capsys, argv) -> None:
    assert main(["--data-dir", str(tmp_path), *argv]) == 2
    assert "no journal" in capsys.readouterr().err


def test_live_with_a_replay_is_refused_in_one_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tapedesk", "--data-dir", str(tmp_path / "d"), "--live", "run",
         "--headless", "--replay", "sample:1m"],
        input="BTCUSDT\n", capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "tapedesk: --live trades on Binance's live market data; a replay is always paper"
        " (drop --live, or drop --replay)"]
    assert not (tmp_path / "d" / "paper.db").exists() and not (tmp_path / "d" / "live.db").exists()
