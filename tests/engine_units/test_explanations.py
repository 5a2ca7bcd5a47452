"""Explanation sentences: the same fact always reads the same way to a trader."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import Side, Signal
from tapedesk.engine.explanations import money, pct, price, refused, signed_money, taken
from tapedesk.engine.risk import Costs, DayCounters, RiskEngine
from tapedesk.engine.symbols import spec_for


def test_prices_money_and_percentages_are_formatted_for_people():
    assert price(43210.0) == "43,210.0" and price(43210.25) == "43,210.25"
    assert price(2.5) == "2.50" and price(0.000123) == "0.000123"
    assert money(Decimal("-1234.5")) == "-$1,234.50" and money(3) == "$3.00"
    assert signed_money(0) == "+$0.00" and signed_money(-2) == "-$2.00"
    assert pct(0.4213) == "0.42 %"


def vet(sig: Signal, equity: str, cfg: RiskConfig, costs: Costs | None = None):
    return RiskEngine(cfg, costs=costs).vet(sig, day=DayCounters("d"), equity=Decimal(equity),
                               available=Decimal(equity), spec=spec_for("BTCUSDT"),
                               has_position=False, has_pending=False)


def test_an_accepted_entry_reads_with_size_stop_target_risk_and_leverage():
    sig = Signal("ema_cross", "BTCUSDT", Side.LONG, 0, 50_000.0, 49_900.0, 50_200.0,
                 reasons=["EMA 12 crossed above EMA 26"])
    dec = vet(sig, "10000", RiskConfig())
    assert taken(dec, Decimal(10_000), 0.3) == (
        "Took long BTCUSDT 0.300 @ ~50,000.0 (ema_cross): stop 49,900.0 (0.20 %), "
        "target 50,200.0, risk $30.00 = 0.30 % of $10,000.00 incl. fees and slippage $0.00, "
        "2x isolated. Why: EMA 12 crossed above EMA 26")


def test_the_risk_stated_includes_both_taker_fees_and_slippage():
    # Per unit: distance 100 + fees 99,900 × 0.05 % = 49.95 + slippage 99,900 × 0.01 % = 9.99.
    sig = Signal("ema_cross", "BTCUSDT", Side.LONG, 0, 50_000.0, 49_900.0, 50_200.0)
    dec = vet(sig, "10000", RiskConfig(), Costs.from_bps(5, 1))
    assert dec.qty == Decimal("0.187")  # 30 / 159.94, down to the step
    assert taken(dec, Decimal(10_000), 0.3) == (
        "Took long BTCUSDT 0.187 @ ~50,000.0 (ema_cross): stop 49,900.0 (0.20 %), "
        "target 50,200.0, risk $29.91 = 0.30 % of $10,000.00 incl. fees and slippage $11.21, "
        "1x isolated.")


def test_a_size_cut_by_the_leverage_cap_says_so():
    sig = Signal("s", "BTCUSDT", Side.LONG, 0, 50_000.0, 49_925.0)
    dec = vet(sig, "1000", RiskConfig(risk_per_trade_pct=5))
    text = taken(dec, Decimal(1000), 5)
    assert "no target" in text and text.endswith("Size capped by the 5x leverage limit.")


def test_a_refusal_names_the_side_symbol_strategy_and_the_rule_sentence():
    sig = Signal("s", "BTCUSDT", Side.SHORT, 0, 50_000.0, 50_210.0)
    assert refused(vet(sig, "10000", RiskConfig())) == (
        "Refused short BTCUSDT (s): stop distance 0.42 % is outside 0.15–0.35 %")
