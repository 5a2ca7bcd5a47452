"""What a backtest shows: --strategy all's per-strategy table, saved results and --compare,
--monte-carlo, --plot and --report agreeing with the table, exposure of a trade that opens
and closes inside one bar, and break-even trades counted one way everywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .bars import T0, backtest_json, tapedesk, write_bars

STRATS = ["ema_cross", "grid", "liquidity_sweep", "mean_reversion"]


@pytest.fixture(scope="module")
def all_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    out = tmp_path_factory.mktemp("all")
    report = out / "x.html"
    proc = tapedesk("backtest", "--data", "sample:1m", "--strategy", "all",
                    "--monte-carlo", "200", "--plot", "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr, report


def _saved(stdout: str) -> Path:
    m = re.search(r"result saved to (\S+\.json)", stdout)
    assert m, stdout[-300:]
    return Path(m.group(1))


def test_all_has_a_row_per_strategy_with_real_exposure_cagr_calmar(all_run) -> None:
    stdout, stderr, _ = all_run
    head = next(ln for ln in stdout.splitlines() if ln.startswith("strategy "))
    for col in ("trades", "CAGR %", "Calmar", "exposure %", "max DD %"):
        assert col in head
    rows = {ln.split()[0]: ln.split() for ln in stdout.splitlines()
            if ln.split() and ln.split()[0] in STRATS}
    assert sorted(rows) == STRATS
    doc = json.loads(_saved(stdout).read_text())
    per = doc["per_strategy"]
    assert sum(m["trades"] for m in per.values()) == doc["metrics"]["trades"]
    for name in STRATS:
        m = per[name]
        assert m["trades"] > 0 and m["exposure_pct"] > 0, name
        assert rows[name][-1] == f"{m['exposure_pct']:.1f}"
        assert m["cagr_pct"] is not None and m["calmar"] is not None
    assert doc["skipped"] == {"book_imbalance": doc["skipped"]["book_imbalance"]}
    why = doc["skipped"]["book_imbalance"]
    assert "bars only" in why
    assert f"skipped book_imbalance: {why}" in stderr
    assert f"book_imbalance: skipped, {why}" in stdout


def test_plot_report_and_table_show_one_drawdown(all_run) -> None:
    stdout, _, report = all_run
    table = re.search(r"max drawdown\s+[\d,.]+ \(([\d.]+) %\)", stdout).group(1)
    plot = re.search(r"Drawdown % \(worst -([\d.]+) %\)", stdout).group(1)
    assert plot == table
    html = report.read_text()
    first = re.search(r"max_drawdown_pct</td><td>([\d.]+)<", html).group(1)
    assert first == table
    assert "report written to" in stdout


def test_monte_carlo_percentiles_are_printed(all_run) -> None:
    stdout, _, _ = all_run
    assert "Monte Carlo: 200 bootstrap runs" in stdout
    for row in ("final P&L", "max DD", "chance the run ends in a loss"):
        assert row in stdout


def test_compare_two_saved_results(all_run, tmp_path: Path) -> None:
    a = _saved(all_run[0])
    proc = tapedesk("backtest", "--data", "sample:1m", "--strategy", "ema_cross",
                    "--from", "2022-01-10", "--to", "2022-01-20")
    assert proc.returncode == 0, proc.stderr
    b = _saved(proc.stdout)
    assert a.exists() and b.exists() and a != b
    cmp = tapedesk("backtest", "--compare", str(a), str(b))
    assert cmp.returncode == 0, cmp.stderr
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    assert f"A: {a}" in cmp.stdout and f"B: {b}" in cmp.stdout
    assert "--strategy all" in cmp.stdout  # the command that made A
    row = next(ln for ln in cmp.stdout.splitlines() if ln.startswith("net P&L"))
    diff = db["metrics"]["net_pnl"] - da["metrics"]["net_pnl"]
    assert row.split()[-1] == f"{diff:+,.2f}"


def test_a_trade_opened_and_stopped_inside_one_bar_counts_that_bar(tmp_path: Path) -> None:
    """Cross up at bar 7's close; the entry fills at bar 8's open and bar 8's low takes
    the 0.5 % stop inside bar 8. Bar 8's close crosses down: a short from bar 9's open to
    its target in bar 10. Bars 8, 9 and 10 held a position: 3 bars, bar 8 included."""
    closes = [100.0, 100.5, 100.0, 99.5, 99.0, 98.5, 98.0, 99.5, 98.2,
              97.5, 97.0, 96.5, 96.0, 95.5, 95.0, 94.5, 94.0, 93.5, 93.0, 92.5]
    closes = [c * 10 for c in closes]  # above the exchange's 100 USDT minimum notional
    path = write_bars(tmp_path / "intrabar.csv", closes, lows={8: 975.0})
    doc = backtest_json("--data", str(path), "--param", "fast=2", "--param", "slow=3",
                        "--param", "stop_pct=0.5", "--fill-at", "next-open",
                        "--fixed-qty", "1", "--no-risk", "--slippage-bps", "0")
    first, second = doc["trades"]
    bar8 = (T0 + 8 * 60_000, T0 + 9 * 60_000)
    assert bar8[0] <= first["entry_ts"] < bar8[1] and bar8[0] <= first["exit_ts"] < bar8[1]
    assert first["reason"] == "stop-loss"
    assert (second["entry_ts"] - T0) // 60_000 == 9 and (second["exit_ts"] - T0) // 60_000 == 10
    m = doc["metrics"]
    assert m["bars_in_position"] == 3
    assert m["exposure_pct"] == pytest.approx(300 / len(closes))


BREAK_EVEN = [1000.0, 1000.5, 1000.0, 1000.0] + [1000.0, 1000.5, 1000.5, 1001.5, 1000.5] * 6


def test_break_even_trades_are_neither_wins_nor_losses_anywhere(tmp_path: Path) -> None:
    """Six long round trips in at 1000.5 and out at 1000.5, no fees: pnl exactly 0.

    With the desk's risk rules on (4 losing trades a day), the day book counting them as
    losses would refuse the fifth entry; the table, JSON and report must say 0 won 0 lost."""
    path = write_bars(tmp_path / "flat.csv", BREAK_EVEN)
    report = tmp_path / "r.md"
    args = ("--data", str(path), "--param", "fast=2", "--param", "slow=3", "--fill-at",
            "close", "--fixed-qty", "0.2", "--fee-bps", "0", "--slippage-bps", "0",
            "--funding-bps", "0")
    doc = backtest_json(*args)
    assert all(float(t["pnl"]) == 0 for t in doc["trades"]), doc["trades"]
    money = [t[k] for t in doc["trades"] for k in ("pnl", "gross_pnl", "fees", "funding")]
    assert not [v for v in money if "E" in v], money  # "0E-8" is no way to write $0
    assert len(doc["trades"]) == 6
    assert doc["refused_entries"] == {}
    m = doc["metrics"]
    assert (m["wins"], m["losses"], m["win_rate"], m["profit_factor"]) == (0, 0, 0.0, None)
    proc = tapedesk("backtest", *args, "--report", str(report))
    assert "6 (0 won, 0 lost; 12 fills)" in proc.stdout
    md = report.read_text()
    assert "| wins | 0 |" in md and "| losses | 0 |" in md


def test_cagr_is_over_the_data_period_not_from_the_first_trade(tmp_path: Path) -> None:
    """docs/backtesting.md: CAGR's period is "from the run's first to last timestamp".
    Three days of bars, flat for two, one trade on the third: the period is three days
    (first bar's close time to the last's), for the combined run and for each strategy."""
    closes = [1000.0] * 2 * 1440 + [1000.0 + (i % 120) / 10 for i in range(1440)]
    path = write_bars(tmp_path / "three_days.csv", closes, pad=0.0)
    args = ("--data", str(path), "--param", "ema_cross.fast=12", "--param", "ema_cross.slow=26",
            "--fixed-qty", "1", "--no-risk")
    doc = backtest_json(*args)
    m = doc["metrics"]
    assert m["trades"] >= 1
    first_close, last_close = T0 + 59_999, T0 + (len(closes) - 1) * 60_000 + 59_999
    assert (m["start_ts"], m["end_ts"]) == (first_close, last_close)
    years = (last_close - first_close) / 86_400_000 / 365
    want = ((m["final_equity"] / m["initial_balance"]) ** (1 / years) - 1) * 100
    assert m["cagr_pct"] == pytest.approx(want, rel=1e-5)  # JSON keeps 6 decimals
    both = backtest_json(*args, "--strategy", "ema_cross", "--strategy", "grid")
    for name, pm in both["per_strategy"].items():
        assert (pm["start_ts"], pm["end_ts"]) == (first_close, last_close), name


def test_exposure_on_tick_data_is_not_claimed_as_zero(tmp_path: Path) -> None:
    """A stream capture has no bars: exposure (counted in bars) is unknown there, and
    "0.0 % of 0 bars" beside book_imbalance's trades would say it never held a position."""
    import gzip

    from tapedesk.engine.sample_data import SAMPLE_STREAM

    with gzip.open(SAMPLE_STREAM, "rt") as fh:
        head = [next(fh) for _ in range(4000)]
    path = tmp_path / "capture_head.gz"
    path.write_bytes(gzip.compress("".join(head).encode()))
    proc = tapedesk("backtest", "--data", str(path), "--strategy", "book_imbalance",
                    "--strategy", "ema_cross")
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("exposure"))
    assert "n/a" in line and "0.0 %" not in line, line
    row = next(ln for ln in proc.stdout.splitlines() if ln.startswith("book_imbalance"))
    assert row.split()[-1] == "n/a", row
