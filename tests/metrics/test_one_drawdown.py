"""One drawdown (metrics.drawdowns) behind the table, the plot, the report and Monte Carlo;
one break-even rule; CAGR and Calmar worked out by hand."""

from __future__ import annotations

import re
from itertools import accumulate

import pytest
from tapedesk.engine.metrics import compute_metrics, max_drawdown
from tapedesk.engine.research.montecarlo import max_drawdown as mc_drawdown
from tapedesk.engine.research.montecarlo import monte_carlo
from tapedesk.engine.research.plots import equity_plot
from tapedesk.engine.research.report import StrategyRun, render_markdown, summarize

from tests.metrics.test_metrics import D0, DAY, trip


def test_plot_title_gives_the_tables_worst_drawdown_even_when_thinned() -> None:
    # 5,001 samples (the plot draws 2,000): the single worst sample, 7,756 after a peak of
    # 10,100, would be thinned away; it falls 23.21 % from the peak.
    curve = [(D0 + i * 60_000, 10_000.0 + (i % 7)) for i in range(5001)]
    curve[10] = (curve[10][0], 10_100.0)
    curve[2001] = (curve[2001][0], 7_756.0)
    m = compute_metrics([], curve, 10_000.0, 0, 5001)
    assert m.max_drawdown_pct == pytest.approx((10_100 - 7_756) / 10_100 * 100)
    text = equity_plot(curve, start=10_000.0)
    worst = float(re.search(r"worst (-?[\d.]+) %", text).group(1))
    assert worst == pytest.approx(-m.max_drawdown_pct, abs=0.005)


def test_a_fall_below_the_start_counts_in_the_plot_as_in_the_table() -> None:
    curve = [(D0, 9_000.0), (D0 + 60_000, 9_500.0)]  # never above the 10,000 start
    m = compute_metrics([], curve, 10_000.0, 0, 2)
    assert m.max_drawdown_pct == pytest.approx(10.0)
    assert "worst -10.00 %" in equity_plot(curve, start=10_000.0)


def test_monte_carlo_and_report_use_the_same_drawdown() -> None:
    pnls = [10.0, -4.0, -3.0, 5.0, -9.0, 1.0]
    eq = list(accumulate(pnls, initial=100.0))
    assert mc_drawdown(pnls, 100.0) == max_drawdown(eq, 100.0)[0] == pytest.approx(11)
    shuffle = monte_carlo(pnls, 1, method="shuffle", start_equity=100.0, seed=3)
    assert shuffle.max_drawdown[50] >= 0
    one = monte_carlo(pnls, 50, start_equity=100.0)
    assert all(one.max_drawdown_pct[q] <= 100 for q in one.max_drawdown_pct)
    md = render_markdown([StrategyRun("x", [], [(D0, 100.0), (D0 + 1, 89.0)],
                                      {"initial_balance": 110.0})])
    assert "worst drawdown 19.09 %" in md  # (110 - 89) / 110, from the initial balance


def test_break_even_trades_are_neither_wins_nor_losses_in_report_and_metrics() -> None:
    trades = [trip("10", "0", "0"), trip("0", "0", "0"), trip("-5", "0", "0")]
    m = compute_metrics(trades, [], 1_000.0, 0, 1)
    s = summarize(trades)
    assert (m.wins, m.losses) == (1, 1)
    assert s["profit factor"] == pytest.approx(m.profit_factor) == pytest.approx(2.0)
    assert s["win rate %"] == pytest.approx(round(m.win_rate, 1))


def test_cagr_and_calmar_by_hand() -> None:
    # 10,000 → 11,000 over 73 days (a fifth of a year): CAGR = 1.1 ** 5 - 1 = 61.051 %;
    # the equity dipped to 9,500 first: drawdown 5 %, Calmar 61.051 / 5.
    curve = [(D0, 10_000.0), (D0 + DAY, 9_500.0), (D0 + 73 * DAY, 11_000.0)]
    m = compute_metrics([], curve, 10_000.0, 0, 3)
    assert m.cagr_pct == pytest.approx(61.051)
    assert m.calmar == pytest.approx(61.051 / 5)
    short = compute_metrics([], [(D0, 10_000.0), (D0 + 1000, 10_100.0)], 10_000.0, 0, 2)
    assert short.cagr_pct is None and short.calmar is None  # under a day: not annualised
