"""Position sizing: size = equity × risk ÷ stop distance, rounded DOWN to the lot step;
leverage is the smallest whole number that carries the notional, never above the cap."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.config import RiskConfig
from tapedesk.engine.risk import DayCounters, RiskEngine, position_size
from tapedesk.engine.symbols import spec_for

from tests.engine_units._helpers import entry_signal

BTC = spec_for("BTCUSDT")  # step 0.001, min notional 100
ETH = spec_for("ETHUSDT")  # step 0.001, min notional 20
SOL = spec_for("SOLUSDT")  # step 1, min notional 5


def test_size_is_equity_times_risk_over_stop_distance():
    # 10,000 × 0.3 % = 30 USDT; stop 100 away → 0.3 BTC; 15,000 notional → 2x.
    s = position_size(Decimal(10_000), 50_000.0, 49_900.0, BTC, RiskConfig())
    assert (s.qty, s.leverage, s.notional, s.capped_by_leverage) == (
        Decimal("0.300"), 2, Decimal("15000.0"), False)
    assert s.risk_amount == Decimal("30.0")


def test_size_is_rounded_down_to_the_step_never_up():
    # 30 ÷ 130 = 0.230769… BTC → 0.230 (0.231 would risk 30.03 > 30).
    s = position_size(Decimal(10_000), 50_000.0, 49_870.0, BTC, RiskConfig())
    assert s.qty == Decimal("0.230")
    assert s.risk_amount == Decimal("29.900") and s.risk_amount <= 30


def test_size_rounds_down_to_whole_units_on_a_step_of_one():
    # SOL step 1: 10,000 × 0.3 % = 30; stop 0.25 away (0.25 %) → 120 SOL exactly;
    # 1,000 equity → 3 USDT ÷ 0.25 = 12; 999 equity → 2.997 ÷ 0.25 = 11.988 → 11.
    cfg = RiskConfig()
    assert position_size(Decimal(10_000), 100.0, 99.75, SOL, cfg).qty == Decimal(120)
    assert position_size(Decimal(1_000), 100.0, 99.75, SOL, cfg).qty == Decimal(12)
    assert position_size(Decimal(999), 100.0, 99.75, SOL, cfg).qty == Decimal(11)


def test_leverage_is_the_smallest_whole_number_that_carries_the_notional():
    cfg = RiskConfig()
    # 30 ÷ 60 = 0.5 BTC at 40,000 = 20,000 notional = exactly 2 × equity → 2x, not 3x.
    assert position_size(Decimal(10_000), 40_000.0, 39_940.0, BTC, cfg).leverage == 2
    # 30 ÷ 160 = 0.1875 → 0.187 BTC at 40,000 = 7,480 < equity → 1x.
    assert position_size(Decimal(10_000), 40_000.0, 39_840.0, BTC, cfg).leverage == 1
    # 30 ÷ 64 = 0.46875 → 0.468 BTC at 40,000 = 18,720 → 2x (1.872 rounded up).
    assert position_size(Decimal(10_000), 40_000.0, 39_936.0, BTC, cfg).leverage == 2


def test_size_is_cut_to_what_the_leverage_cap_allows():
    # 1,000 × 5 % = 50 USDT ÷ 75 = 0.666 BTC = 33,300 notional > 5 × 1,000: cut to 0.1 BTC.
    cfg = RiskConfig(risk_per_trade_pct=5)
    s = position_size(Decimal(1_000), 50_000.0, 49_925.0, BTC, cfg)
    assert s.capped_by_leverage
    assert (s.qty, s.leverage, s.notional) == (Decimal("0.100"), 5, Decimal("5000.0"))
    assert s.risk_amount == Decimal("7.5")  # less risk than asked, never more


def test_size_cap_follows_a_configured_leverage_cap():
    cfg = RiskConfig(risk_per_trade_pct=5, max_leverage=3)
    s = position_size(Decimal(1_000), 50_000.0, 49_925.0, BTC, cfg)
    assert (s.qty, s.leverage, s.capped_by_leverage) == (Decimal("0.060"), 3, True)


def test_min_notional_refusal_names_the_exchange_minimum():
    eng = RiskEngine(RiskConfig())
    dec = eng.vet(entry_signal(entry=2000.0, stop=1996.0), day=DayCounters("d"),
                  equity=Decimal(20), available=Decimal(20), spec=ETH,
                  has_position=False, has_pending=False)
    # 20 × 0.3 % = 0.06 ÷ 4 = 0.015 ETH → 30 USDT ≥ 20: accepted.
    assert dec.accepted and dec.qty == Decimal("0.015")
    dec = eng.vet(entry_signal(entry=2000.0, stop=1996.0), day=DayCounters("d"),
                  equity=Decimal(10), available=Decimal(10), spec=ETH,
                  has_position=False, has_pending=False)
    # 10 × 0.3 % = 0.03 ÷ 4 = 0.0075 → 0.007 ETH → 14 USDT < 20.
    assert (dec.accepted, dec.rule) == (False, "exchange_minimums")
    assert dec.text == "notional 14.00 USDT is below the minimum 20"


def test_size_is_exact_when_entry_minus_stop_is_not_exact_in_float():
    s = position_size(Decimal(10_000), 100.0, 99.8, ETH, RiskConfig())
    assert s.qty == Decimal("150.000")
    assert s.risk_amount == Decimal("30.000")
