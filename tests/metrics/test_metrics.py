"""Every metric checked against numbers worked out by hand from a small trade list."""

from __future__ import annotations

import io
import json
import math
from decimal import Decimal as D

import pytest
from tapedesk.engine.events import RoundTrip, Side
from tapedesk.engine.metrics import ProgressBar, compute_metrics, daily_returns, format_table

DAY = 86_400_000
HOUR = 3_600_000
D0 = 1704067200000  # 2024-01-01 00:00 UTC


def trip(gross: str, fees: str, funding: str, risk: str = "0", side: Side = Side.LONG,
         entry_ts: int = D0, exit_ts: int = D0 + HOUR) -> RoundTrip:
    pnl = D(gross) - D(fees) + D(funding)
    return RoundTrip("BTCUSDT", side, D("0.01"), D("40000"), D("40100"), entry_ts, exit_ts,
                     D(gross), D(fees), D(funding), pnl, "ema_cross", "test", D(risk))


# Four trades: pnl 115, -63, 38.5, -21 (net 69.5).
TRADES = [
    trip("120", "4", "-1", risk="50", entry_ts=D0 + 9 * HOUR, exit_ts=D0 + 20 * HOUR),
    trip("-60", "3", "0", risk="50", side=Side.SHORT, entry_ts=D0 + DAY, exit_ts=D0 + DAY + HOUR),
    trip("40", "2", "0.5", entry_ts=D0 + 3 * DAY, exit_ts=D0 + 3 * DAY + 8 * HOUR),
    trip("-20", "1", "0", risk="25",
         entry_ts=D0 + 3 * DAY + 9 * HOUR, exit_ts=D0 + 3 * DAY + 23 * HOUR),
]
# Equity after each trade; day 2 has no sample (flat day).
EQUITY = [
    (D0 + 10 * HOUR, 1010.0),
    (D0 + 20 * HOUR, 1115.0),  # day 0 close
    (D0 + DAY + 12 * HOUR, 1052.0),  # day 1 close
    (D0 + 3 * DAY + 8 * HOUR, 1100.0),
    (D0 + 3 * DAY + 23 * HOUR, 1069.5),  # day 3 close
]


def test_trade_statistics_match_the_hand_computation() -> None:
    m = compute_metrics(TRADES, EQUITY, 1000.0, bars_in_position=30, total_bars=120)
    assert m.trades == 4 and m.wins == 2 and m.losses == 2
    assert m.net_pnl == pytest.approx(69.5)
    assert m.gross_pnl == pytest.approx(80.0)
    assert m.fees == pytest.approx(10.0)
    assert m.funding == pytest.approx(-0.5)
    assert m.win_rate == pytest.approx(50.0)
    assert m.profit_factor == pytest.approx(153.5 / 84.0)  # (115 + 38.5) / (63 + 21)
    assert m.expectancy == pytest.approx(17.375)  # 69.5 / 4
    # R known for three trades: 115/50, -63/50, -21/25
    assert m.expectancy_r == pytest.approx((2.3 - 1.26 - 0.84) / 3)
    assert m.avg_win == pytest.approx(76.75)
    assert m.avg_loss == pytest.approx(-42.0)
    assert m.exposure_pct == pytest.approx(25.0)
    assert m.final_equity == 1069.5
    assert m.return_pct == pytest.approx(6.95)
    assert m.start_ts == D0 + 9 * HOUR and m.end_ts == D0 + 3 * DAY + 23 * HOUR


def test_drawdown_is_peak_to_trough_on_the_equity_samples() -> None:
    m = compute_metrics(TRADES, EQUITY, 1000.0, 30, 120)
    assert m.max_drawdown == pytest.approx(63.0)  # 1115 → 1052
    assert m.max_drawdown_pct == pytest.approx(63.0 / 1115.0 * 100)


def test_drawdown_counts_a_fall_below_the_initial_balance() -> None:
    m = compute_metrics([], [(D0, 950.0), (D0 + HOUR, 990.0)], 1000.0, 0, 10)
    assert m.max_drawdown == pytest.approx(50.0)
    assert m.max_drawdown_pct == pytest.approx(5.0)


def test_sharpe_and_sortino_use_daily_returns_annualised_with_sqrt_365() -> None:
    returns = daily_returns(EQUITY, 1000.0)
    expected = [0.115, 1052 / 1115 - 1, 0.0, 1069.5 / 1052 - 1]  # day 2 forward-filled
    assert returns == pytest.approx(expected)
    mean = sum(expected) / 4
    std = math.sqrt(sum((r - mean) ** 2 for r in expected) / 3)
    downside = math.sqrt((1052 / 1115 - 1) ** 2 / 4)
    m = compute_metrics(TRADES, EQUITY, 1000.0, 30, 120)
    assert m.daily_returns == 4
    assert m.sharpe == pytest.approx(mean / std * math.sqrt(365))
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(365))
    # the same figures written out once, so a change of formula cannot hide
    assert m.sharpe == pytest.approx(5.0277, abs=1e-3)
    assert m.sortino == pytest.approx(12.7022, abs=1e-3)


def test_no_trades_gives_undefined_ratios_not_errors() -> None:
    m = compute_metrics([], [], 1000.0, 0, 0)
    assert (m.trades, m.wins, m.losses) == (0, 0, 0)
    assert m.win_rate is None and m.profit_factor is None and m.expectancy is None
    assert m.avg_win is None and m.avg_loss is None and m.expectancy_r is None
    assert m.sharpe is None and m.sortino is None
    assert m.max_drawdown == 0 and m.exposure_pct == 0
    assert m.final_equity == 1000.0 and m.net_pnl == 0
    assert m.start_ts is None
    json.dumps(m.to_dict())
    assert "n/a" in format_table(m)


def test_all_winners_have_no_profit_factor_and_no_sortino() -> None:
    wins = [trip("10", "1", "0", entry_ts=D0 + i * DAY, exit_ts=D0 + i * DAY + HOUR)
            for i in range(3)]
    equity = [(D0 + HOUR, 1009.0), (D0 + DAY + HOUR, 1018.0), (D0 + 2 * DAY + HOUR, 1027.0)]
    m = compute_metrics(wins, equity, 1000.0, 3, 30)
    assert m.wins == 3 and m.losses == 0 and m.win_rate == 100.0
    assert m.profit_factor is None
    assert m.avg_loss is None
    assert m.max_drawdown == 0
    assert m.sortino is None  # no losing day: downside deviation is 0
    assert m.sharpe is not None and m.sharpe > 0
    assert "n/a (no losing trades)" in format_table(m)


def test_one_day_gives_one_return_and_no_sharpe() -> None:
    m = compute_metrics(TRADES[:1], [(D0 + 20 * HOUR, 1115.0)], 1000.0, 5, 10)
    assert m.daily_returns == 1
    assert m.sharpe is None and m.sortino is None


def test_table_prints_labels_above_the_figures_and_json_is_plain() -> None:
    m = compute_metrics(TRADES, EQUITY, 1000.0, 30, 120)
    text = format_table(m, ["fixed qty 0.01 (risk sizing bypassed)", "no risk (research only)"])
    lines = text.splitlines()
    assert lines[0] == "* fixed qty 0.01 (risk sizing bypassed)"
    assert lines[1] == "* no risk (research only)"
    assert any(line.startswith("profit factor") and "1.83" in line for line in lines)
    assert any(line.startswith("max drawdown") and "63.00 (5.65 %)" in line for line in lines)
    d = m.to_dict()
    assert d["start"] == "2024-01-01T09:00:00Z"
    assert d["net_pnl"] == 69.5
    json.dumps(d)


def test_progress_bar_redraws_at_most_ten_times_a_second() -> None:
    now = [0.0]
    out = io.StringIO()
    bar = ProgressBar(100_000, out, enabled=True, clock=lambda: now[0])
    for done in range(1, 100_001):
        now[0] += 0.00002  # 100k updates over 2 simulated seconds
        bar.update(done)
    bar.close()
    assert bar.draws <= 2 * 10 + 2
    assert bar.draws >= 10
    assert out.getvalue().endswith("100.0 % 100,000/100,000 50,000/s\n")


def test_progress_bar_is_silent_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    bar = ProgressBar(10, out)
    for i in range(10):
        bar.update(i)
    bar.close()
    assert out.getvalue() == ""
