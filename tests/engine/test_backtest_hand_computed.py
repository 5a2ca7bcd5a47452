"""A backtest small enough to compute by hand: EMA values, the trade, fees and every metric."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tapedesk.engine.backtest import run_backtest
from tapedesk.engine.config import DeskConfig, PaperConfig
from tapedesk.engine.strategy import create

from tests.engine.conftest import bar, flat_bars


def _config() -> DeskConfig:
    return DeskConfig(
        paper=PaperConfig(
            slippage_bps=0, latency_ms=0, fill_at="next-open", assumed_funding_bps_8h=0
        )
    )


def _bars() -> list:
    bars = flat_bars(4)  # EMAs seeded at 100, warm-up of `slow` = 3 bars
    bars += [
        bar(4, 100.0, 101.0, 100.0, 101.0),  # fast 100.6667 > slow 100.5: cross up → long
        bar(5, 101.2, 101.3, 101.1, 101.2),  # entry fills at this open, 101.2
        bar(6, 101.3, 101.6, 101.25, 101.55),  # high reaches the target 101.50
    ]
    return bars


def test_ema_values_are_seeded_from_first_close() -> None:
    strat = create("ema_cross", fast=2, slow=3)
    for b in _bars()[:5]:
        strat.on_bar(b)
    fast, slow = strat._state["TESTUSDT"].fast, strat._state["TESTUSDT"].slow
    assert fast == pytest.approx(100 + (2 / 3) * 1)  # alpha = 2/(2+1)
    assert slow == pytest.approx(100 + 0.5 * 1)  # alpha = 2/(3+1)


def test_hand_computed_backtest_trade_fees_and_metrics() -> None:
    result = run_backtest(_bars(), [create("ema_cross", fast=2, slow=3)], _config())
    assert len(result.trades) == 1
    t = result.trades[0]
    # Sizing: risk 0.3 % of 10,000 = 30 per (stop 0.25 % of 101 = 0.2525 + taker fees on
    # both legs (101 + 100.7475) × 0.05 % = 0.10087375) = 30 / 0.35337375 = 84.8958… → 84.895
    qty = Decimal("84.895")
    assert t.qty == qty
    assert str(t.side) == "long"
    assert t.entry_price == Decimal("101.2")
    # Target 101 + 2 × 0.2525 = 101.505, rounded toward entry to the 0.01 tick: 101.50
    assert t.exit_price == Decimal("101.50")
    assert t.reason == "take-profit"
    entry_fee = (Decimal("101.2") * qty * Decimal("0.0005")).quantize(Decimal("1E-8"))
    exit_fee = (Decimal("101.50") * qty * Decimal("0.0005")).quantize(Decimal("1E-8"))
    gross = (Decimal("101.50") - Decimal("101.2")) * qty
    assert t.fees == entry_fee + exit_fee
    assert t.gross_pnl == gross
    assert t.funding == 0
    assert t.pnl == gross - entry_fee - exit_fee
    # Risk: stop 101 - 0.2525 = 100.7475 rounded toward entry → 100.75, from the real entry,
    # with both fees (what a stop-out would have cost); R = pnl / risk
    fees_per_unit = (Decimal("101.2") + Decimal("100.75")) * Decimal("0.0005")
    assert t.risk_amount == (Decimal("101.2") - Decimal("100.75") + fees_per_unit) * qty
    m = result.metrics
    net = float(gross - entry_fee - exit_fee)
    assert m.trades == 1 and m.wins == 1 and m.losses == 0
    assert m.net_pnl == pytest.approx(net)
    assert m.fees == pytest.approx(float(entry_fee + exit_fee))
    assert m.win_rate == pytest.approx(100.0)
    assert m.profit_factor is None  # no losing trade: undefined, not infinite
    assert m.expectancy == pytest.approx(net)
    assert m.expectancy_r == pytest.approx(net / float(t.risk_amount))
    assert m.final_equity == pytest.approx(10_000 + net)
    # Equity samples: at the entry fill the last price is the signal close 101, so equity is
    # 10,000 - entry fee + (101 - 101.2) × qty; that is the only dip below the start.
    dip = float(entry_fee) + 0.2 * float(qty)
    assert m.max_drawdown == pytest.approx(dip)
    assert m.max_drawdown_pct == pytest.approx(dip / 10_000 * 100)
    # In position during bars 5 and 6 (of 7): exposure 2/7.
    assert m.exposure_pct == pytest.approx(2 / 7 * 100)
    assert m.sharpe is None and m.sortino is None  # one day: no daily return series


def test_every_signal_yields_exactly_one_decision_record() -> None:
    result = run_backtest(_bars(), [create("ema_cross", fast=2, slow=3)], _config())
    kinds = [str(e.kind) for e in result.explanations]
    assert kinds.count("taken") + kinds.count("refused") == 1
