"""Monte Carlo, terminal plots, reports and --strategy/--param parsing."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from tapedesk.engine.events import RoundTrip, Side
from tapedesk.engine.research.montecarlo import PERCENTILES, max_drawdown, monte_carlo
from tapedesk.engine.research.plots import drawdown_curve, equity_plot
from tapedesk.engine.research.report import StrategyRun, summarize, write_report
from tapedesk.engine.research.selection import (
    SelectionError,
    build_strategies,
    parse_params,
    select_strategies,
)

PNLS = [12.0, -5.0, -7.5, 20.0, -3.0, 8.0, -10.0, 4.0, 6.5, -2.0] * 3


def test_max_drawdown_of_a_known_sequence():
    assert max_drawdown([10, -4, -3, 5, -9, 1]) == pytest.approx(11)
    assert max_drawdown([1, 2, 3]) == 0


def test_monte_carlo_matches_an_independent_numpy_computation():
    np = pytest.importorskip("numpy")
    res = monte_carlo(PNLS, runs=500, seed=7, start_equity=1000.0)
    # replay the same draws independently: same RNG, same sampling, numpy for the maths
    rng = random.Random(7)
    finals, dds = [], []
    for _ in range(500):
        sample = np.array(rng.choices(PNLS, k=len(PNLS)))
        equity = 1000.0 + np.cumsum(sample)
        peak = np.maximum.accumulate(np.concatenate([[1000.0], equity]))[1:]
        finals.append(equity[-1] - 1000.0)
        dds.append(float(np.max(peak - equity)))
    for q in PERCENTILES:
        assert res.final_pnl[q] == pytest.approx(np.percentile(finals, q))
        assert res.max_drawdown[q] == pytest.approx(np.percentile(dds, q))
    assert res.prob_loss == pytest.approx(np.mean(np.array(finals) < 0))
    assert "Monte Carlo: 500 bootstrap runs of 30 trades" in res.table()


def test_shuffle_keeps_final_pnl_and_varies_only_the_drawdown():
    res = monte_carlo(PNLS, runs=300, seed=1, method="shuffle")
    assert {round(v, 9) for v in res.final_pnl.values()} == {round(sum(PNLS), 9)}
    assert res.max_drawdown[95] > res.max_drawdown[5]


def test_monte_carlo_is_reproducible_and_refuses_nonsense():
    assert monte_carlo(PNLS, 200, seed=3).final_pnl == monte_carlo(PNLS, 200, seed=3).final_pnl
    with pytest.raises(ValueError, match="--monte-carlo"):
        monte_carlo(PNLS, 0)
    assert monte_carlo([], 10).trades == 0


def test_drawdown_curve_in_percent():
    assert drawdown_curve([100, 110, 99, 121]) == pytest.approx([0, 0, -10, 0])


def test_equity_plot_draws_both_panels_as_text():
    curve = [(1_700_000_000_000 + i * 60_000, 1000 + (i % 50) - i * 0.1) for i in range(500)]
    text = equity_plot(curve, title="mean_reversion", width=80, height=24)
    assert "mean_reversion: 1,000.00" in text and "Drawdown %" in text
    assert "\x1b[" not in text
    assert equity_plot([], title="x") == "x: no equity samples to plot\n"


def _trades():
    out = []
    for i, pnl in enumerate([15.5, -7.25, 22.0, -7.0]):
        out.append(
            RoundTrip(
                "BTCUSDT",
                Side.LONG if i % 2 == 0 else Side.SHORT,
                Decimal("0.01"),
                Decimal("40000"),
                Decimal("40100"),
                1_700_000_000_000 + i * 3_600_000,
                1_700_000_000_000 + i * 3_600_000 + 600_000,
                Decimal(str(pnl + 1)),
                Decimal("1"),
                Decimal("0"),
                Decimal(str(pnl)),
                "liquidity_sweep",
                "take profit" if pnl > 0 else "stop | loss",
                risk_amount=Decimal("7"),
            )
        )
    return out


def test_summary_metrics_from_the_trade_list():
    m = summarize(_trades())
    assert m["trades"] == 4 and m["net P&L"] == pytest.approx(23.25)
    assert m["win rate %"] == 50.0 and m["profit factor"] == pytest.approx(37.5 / 14.25, abs=0.01)
    assert m["max drawdown"] == pytest.approx(7.25)


@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_report_is_written_with_metrics_trades_and_monte_carlo(tmp_path, suffix):
    run = StrategyRun(
        "liquidity_sweep",
        _trades(),
        equity_curve=[(1_700_000_000_000, 1000.0), (1_700_000_600_000, 1023.25)],
        params={"stop_max_pct": 0.35},
    )
    path = write_report(tmp_path / f"bt{suffix}", [run], monte_carlo([15.5, -7.25, 22.0, -7.0], 50))
    text = path.read_text()
    assert "liquidity_sweep" in text and "23.25" in text and "Monte Carlo" in text
    assert "not investment advice" in text
    if suffix == ".html":
        assert "<svg" in text and "stop | loss" in text
    else:
        assert "stop / loss" in text  # a pipe would break the Markdown table


def test_report_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.html or \.md"):
        write_report(tmp_path / "bt.pdf", [])


def test_strategy_selection_repeated_comma_and_all():
    assert select_strategies(["grid", "mean_reversion,grid"]) == ["grid", "mean_reversion"]
    every = select_strategies(["all"])
    assert {"liquidity_sweep", "mean_reversion", "grid", "book_imbalance"} <= set(every)
    with pytest.raises(SelectionError, match="--strategy 'nope' is unknown"):
        select_strategies(["nope"])


def test_params_are_routed_to_their_strategy_and_typos_are_named():
    sel = ["grid", "mean_reversion"]
    got = parse_params(["grid.spacing_pct=0.3", "mean_reversion.bb_k=2.5"], sel)
    assert got == {"grid": {"spacing_pct": "0.3"}, "mean_reversion": {"bb_k": "2.5"}}
    assert parse_params(["bb_k=3"], ["mean_reversion"]) == {"mean_reversion": {"bb_k": "3"}}
    with pytest.raises(SelectionError, match="say which strategy"):
        parse_params(["bb_k=3"], sel)
    with pytest.raises(SelectionError, match="grid has no parameter 'spacing'"):
        parse_params(["grid.spacing=3"], sel)
    with pytest.raises(SelectionError, match="is not selected"):
        parse_params(["liquidity_sweep.target_r=3"], sel)
    with pytest.raises(SelectionError, match="must look like"):
        parse_params(["grid.spacing_pct"], sel)


def test_build_strategies_applies_typed_params_and_reports_bad_values():
    (s,) = build_strategies(["mean_reversion"], ["mean_reversion.bb_period=30"])
    assert s.params["bb_period"] == 30
    with pytest.raises(SelectionError, match="bb_period='x' is not a whole number"):
        build_strategies(["mean_reversion"], ["mean_reversion.bb_period=x"])
