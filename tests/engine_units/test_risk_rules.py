"""The risk rulebook: every rule at, just inside and just outside its boundary.

Defaults (DESIGN.md): 10 trades/day, 4 losing trades/day, daily loss cap $100, daily profit
lock $75, stop distance 0.15–0.35 %, one position per symbol, exchange minimums, margin.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import Side, Signal, SignalKind
from tapedesk.engine.risk import (
    DayCounters,
    RiskEngine,
    day_lock_reason,
    gate_reason,
    rule_daily_loss_cap,
    rule_daily_profit_lock,
    rule_margin_available,
    rule_max_losses,
    rule_max_trades,
    rule_one_position,
    rule_stop_distance,
    rule_stop_side,
)
from tapedesk.engine.symbols import spec_for

from tests.engine_units._helpers import entry_signal

CFG = RiskConfig()
ETH = spec_for("ETHUSDT")
BTC = spec_for("BTCUSDT")


def day(**kw: object) -> DayCounters:
    return DayCounters(day="2024-01-01", **kw)  # type: ignore[arg-type]


def vet(sig: Signal, *, d: DayCounters | None = None, equity: str = "10000",
        available: str | None = None, spec=ETH, has_position: bool = False,
        has_pending: bool = False, engine: RiskEngine | None = None):
    eng = engine or RiskEngine(CFG)
    return eng.vet(sig, day=d or day(), equity=Decimal(equity),
                   available=Decimal(available if available is not None else equity), spec=spec,
                   has_position=has_position, has_pending=has_pending)


# -- day rules -----------------------------------------------------------------------------

@pytest.mark.parametrize(("trades", "allowed"), [(0, True), (9, True), (10, False), (11, False)])
def test_max_trades_per_day_allows_the_tenth_entry_and_refuses_the_eleventh(trades, allowed):
    res = rule_max_trades(day(trades=trades), CFG)
    assert res.passed is allowed
    assert res.rule == "max_trades_per_day"
    assert res.numbers == {"trades": trades, "max": 10}


@pytest.mark.parametrize(("losses", "allowed"), [(0, True), (3, True), (4, False), (5, False)])
def test_max_losing_trades_refuses_entries_once_four_losses_are_booked(losses, allowed):
    res = rule_max_losses(day(losses=losses), CFG)
    assert res.passed is allowed
    assert res.numbers == {"losses": losses, "max": 4}


@pytest.mark.parametrize(("pnl", "allowed"), [
    ("0", True), ("-99.99", True), ("-100", False), ("-100.01", False), ("-250", False)])
def test_daily_loss_cap_refuses_entries_when_day_pnl_reaches_minus_100(pnl, allowed):
    res = rule_daily_loss_cap(day(realized_pnl=Decimal(pnl)), CFG)
    assert res.passed is allowed
    assert res.numbers == {"pnl": pnl, "cap": "100"}


@pytest.mark.parametrize(("pnl", "allowed"), [
    ("0", True), ("74.99", True), ("75", False), ("75.01", False)])
def test_daily_profit_lock_refuses_entries_when_day_pnl_reaches_75(pnl, allowed):
    res = rule_daily_profit_lock(day(realized_pnl=Decimal(pnl)), CFG)
    assert res.passed is allowed
    assert res.numbers == {"pnl": pnl, "lock": "75"}


def test_day_lock_reason_is_empty_while_every_day_rule_passes():
    assert day_lock_reason(day(trades=9, losses=3, realized_pnl=Decimal("-99.99")), CFG) == ""


def test_day_lock_reason_names_the_rule_and_its_numbers():
    why = day_lock_reason(day(realized_pnl=Decimal(-100)), CFG)
    assert why.startswith("daily loss cap reached")
    assert "-$100.00" in why
    assert "max losing trades per day reached" in day_lock_reason(day(losses=4), CFG)


# -- the pre-strategy gate -------------------------------------------------------------------

def test_gate_is_open_for_a_running_desk_with_fresh_data():
    assert gate_reason(halted=False, paused=False, day=day(), stale_s=None, cfg=CFG) == ""
    assert gate_reason(halted=False, paused=False, day=day(), stale_s=10.0, cfg=CFG) == ""


def test_gate_closes_for_a_halted_desk_first():
    why = gate_reason(halted=True, paused=True, day=day(locked=True), stale_s=99, cfg=CFG)
    assert "halted" in why


def test_gate_closes_for_a_paused_desk():
    assert "paused" in gate_reason(halted=False, paused=True, day=day(), stale_s=None, cfg=CFG)


def test_gate_closes_for_a_locked_day_and_repeats_the_lock_reason():
    d = day(locked=True, lock_reason="daily loss cap reached")
    why = gate_reason(halted=False, paused=False, day=d, stale_s=None, cfg=CFG)
    assert why == "day locked: daily loss cap reached"


def test_gate_closes_when_data_is_older_than_stale_after_s():
    why = gate_reason(halted=False, paused=False, day=day(), stale_s=10.5, cfg=CFG)
    assert "stale" in why and "10.5 s" in why and "limit 10 s" in why


# -- signal rules ----------------------------------------------------------------------------

@pytest.mark.parametrize(("stop", "allowed"), [
    (99.86, False),   # 0.14 %
    (99.851, False),  # 0.149 %
    (99.85, True),    # exactly 0.15 %
    (99.80, True),    # 0.20 %
    (99.65, True),    # exactly 0.35 %
    (99.649, False),  # 0.351 %
    (99.64, False),   # 0.36 %
])
def test_stop_distance_band_is_inclusive_at_015_and_035_percent(stop, allowed):
    res = rule_stop_distance(entry_signal(entry=100.0, stop=stop), CFG)
    assert res.passed is allowed, res.message
    assert res.numbers["min"] == 0.15 and res.numbers["max"] == 0.35


@pytest.mark.parametrize(("stop", "allowed"), [
    (100.14, False), (100.15, True), (100.35, True), (100.351, False)])
def test_stop_distance_band_applies_to_shorts_too(stop, allowed):
    res = rule_stop_distance(entry_signal(Side.SHORT, entry=100.0, stop=stop), CFG)
    assert res.passed is allowed


def test_stop_distance_band_at_exact_boundaries_on_a_btc_price():
    # 0.15 % and 0.35 % of 43,210.0 are 64.815 and 151.235: float noise must not refuse them.
    assert rule_stop_distance(entry_signal(entry=43210.0, stop=43210.0 - 64.815), CFG).passed
    assert rule_stop_distance(entry_signal(entry=43210.0, stop=43210.0 - 151.235), CFG).passed


@pytest.mark.parametrize(("side", "stop", "target", "ok"), [
    (Side.LONG, 99.8, 100.4, True),
    (Side.LONG, 100.2, 100.4, False),   # long stop above entry
    (Side.LONG, 99.8, 99.6, False),     # long target below entry
    (Side.LONG, 100.0, 100.4, False),   # stop at entry
    (Side.LONG, 99.8, 0.0, True),       # no target is allowed
    (Side.SHORT, 100.2, 99.6, True),
    (Side.SHORT, 99.8, 99.6, False),    # short stop below entry
    (Side.SHORT, 100.2, 100.4, False),  # short target above entry
    (Side.LONG, 0.0, 100.4, False),     # no stop at all
])
def test_stop_and_target_must_be_on_the_right_side_of_entry(side, stop, target, ok):
    res = rule_stop_side(entry_signal(side, entry=100.0, stop=stop, target=target))
    assert res.passed is ok
    assert res.rule == "stop_and_target_side"


def test_one_position_per_symbol_refuses_with_an_open_position_or_a_working_entry():
    assert rule_one_position(False, False, "ETHUSDT").passed
    open_pos = rule_one_position(True, False, "ETHUSDT")
    assert not open_pos.passed and "already open on ETHUSDT" in open_pos.message
    working = rule_one_position(False, True, "ETHUSDT")
    assert not working.passed and "entry is already working" in working.message


def test_margin_available_passes_at_exactly_the_needed_margin():
    assert rule_margin_available(Decimal(15000), 2, Decimal(7500)).passed
    res = rule_margin_available(Decimal(15000), 2, Decimal("7499.99"))
    assert not res.passed
    assert res.numbers == {"need": "7500", "available": "7499.99"}


# -- RiskEngine.vet: the Decision carries the rule and its numbers -----------------------------

def test_vet_accepts_a_clean_signal_with_size_leverage_and_every_rule_passed():
    dec = vet(entry_signal(entry=50_000.0, stop=49_900.0, symbol="BTCUSDT"), spec=BTC)
    assert dec.accepted and dec.rule == "accepted"
    # 10,000 × 0.3 % = 30 USDT at risk; 30 ÷ 100 = 0.3 BTC; 15,000 notional → 2x.
    assert dec.qty == Decimal("0.300") and dec.leverage == 2
    assert dec.passed == ["one_position_per_symbol", "stop_and_target_side", "daily_loss_cap",
                          "daily_profit_lock", "max_losing_trades_per_day", "max_trades_per_day",
                          "stop_distance_band", "exchange_minimums", "margin_available"]


def test_vet_refuses_stop_distance_with_the_rule_name_and_numbers():
    dec = vet(entry_signal(entry=100.0, stop=99.58))
    assert not dec.accepted
    assert dec.rule == "stop_distance_band"
    assert dec.numbers["stop_pct"] == pytest.approx(0.42)
    assert dec.numbers["min"] == 0.15 and dec.numbers["max"] == 0.35
    assert dec.text == "stop distance 0.42 % is outside 0.15–0.35 %"
    assert dec.qty == 0


@pytest.mark.parametrize(("counters", "rule"), [
    ({"trades": 10}, "max_trades_per_day"),
    ({"losses": 4}, "max_losing_trades_per_day"),
    ({"realized_pnl": Decimal(-100)}, "daily_loss_cap"),
    ({"realized_pnl": Decimal(75)}, "daily_profit_lock"),
])
def test_vet_refuses_entries_once_a_day_rule_is_reached(counters, rule):
    dec = vet(entry_signal(), d=day(**counters))
    assert not dec.accepted and dec.rule == rule
    assert dec.numbers  # the numbers the rule looked at travel with the refusal


def test_vet_accepts_one_step_before_each_day_rule():
    d = day(trades=9, losses=3, realized_pnl=Decimal("-99.99"))
    assert vet(entry_signal(), d=d).accepted
    assert vet(entry_signal(), d=day(realized_pnl=Decimal("74.99"))).accepted


def test_vet_refuses_a_second_entry_on_the_same_symbol():
    dec = vet(entry_signal(), has_position=True)
    assert (dec.accepted, dec.rule) == (False, "one_position_per_symbol")
    assert vet(entry_signal(), has_pending=True).rule == "one_position_per_symbol"


def test_vet_refuses_a_stop_on_the_wrong_side():
    dec = vet(entry_signal(entry=100.0, stop=100.2))
    assert (dec.accepted, dec.rule) == (False, "stop_and_target_side")
    assert dec.numbers["entry"] == 100.0 and dec.numbers["stop"] == 100.2


def test_vet_refuses_below_the_exchange_minimum_notional():
    # BTC: 50 × 0.3 % = 0.15 USDT risk ÷ 100 = 0.0015 → 0.001 BTC = 50 USDT < 100 minimum.
    dec = vet(entry_signal(entry=50_000.0, stop=49_900.0, symbol="BTCUSDT"), equity="50",
              spec=BTC)
    assert (dec.accepted, dec.rule) == (False, "exchange_minimums")
    assert "below the minimum 100" in dec.text
    assert dec.numbers["qty"] == "0.001" and dec.numbers["min_notional"] == "100"


def test_vet_refuses_below_the_exchange_minimum_quantity():
    dec = vet(entry_signal(entry=50_000.0, stop=49_900.0, symbol="BTCUSDT"), equity="10",
              spec=BTC)
    assert (dec.accepted, dec.rule) == (False, "exchange_minimums")
    assert "quantity 0.000 is below the minimum 0.001" in dec.text


def test_vet_refuses_when_isolated_margin_is_not_available():
    sig = entry_signal(entry=50_000.0, stop=49_900.0, symbol="BTCUSDT")
    dec = vet(sig, spec=BTC, available="7499.99")
    assert (dec.accepted, dec.rule) == (False, "margin_available")
    # 0.3 BTC × 50,000 = 15,000 notional at 2x → 7,500 isolated margin.
    assert Decimal(dec.numbers["need"]) == 7500 and dec.numbers["available"] == "7499.99"
    assert "needs $7,500.00 isolated margin, $7,499.99 available" in dec.text
    assert vet(sig, spec=BTC, available="7500").accepted


def test_exits_are_always_allowed_even_on_a_locked_day_with_a_position():
    exit_sig = Signal("spec", "ETHUSDT", Side.LONG, 0, 100.0, kind=SignalKind.EXIT)
    d = day(trades=10, losses=4, realized_pnl=Decimal(-500), locked=True)
    dec = vet(exit_sig, d=d, has_position=True, available="0")
    assert dec.accepted and dec.rule == "exit"


# -- --no-risk and --fixed-qty ----------------------------------------------------------------

def test_no_risk_skips_day_rules_and_the_stop_band():
    eng = RiskEngine(CFG, enabled=False)
    d = day(trades=10, losses=4, realized_pnl=Decimal(-500))
    dec = vet(entry_signal(entry=100.0, stop=99.0), d=d, engine=eng)  # 1 % stop
    assert dec.accepted
    assert "stop_distance_band" not in dec.passed and "daily_loss_cap" not in dec.passed


def test_no_risk_still_refuses_a_second_position_and_a_wrong_side_stop():
    eng = RiskEngine(CFG, enabled=False)
    assert vet(entry_signal(), has_position=True, engine=eng).rule == "one_position_per_symbol"
    assert vet(entry_signal(stop=100.5), engine=eng).rule == "stop_and_target_side"


def test_fixed_qty_bypasses_sizing_and_is_rounded_down_to_the_step():
    eng = RiskEngine(CFG, fixed_qty=Decimal("2.34567"))
    dec = vet(entry_signal(entry=2000.0, stop=1996.0), engine=eng)  # 0.2 % stop
    assert dec.accepted and dec.qty == Decimal("2.345")
    assert dec.leverage == 1  # 4,690 USDT on 10,000 equity
    assert dec.numbers["risk_amount"] == Decimal("2.345") * 4
    big = vet(entry_signal(entry=2000.0, stop=1996.0),
              engine=RiskEngine(CFG, fixed_qty=Decimal(12)))
    assert big.qty == 12 and big.leverage == 3  # 24,000 on 10,000 → smallest whole 3x


def test_fixed_qty_still_obeys_day_rules_and_exchange_minimums():
    eng = RiskEngine(CFG, fixed_qty=Decimal("0.1"))  # 10 USDT < ETH's 20 USDT minimum
    assert vet(entry_signal(), engine=eng).rule == "exchange_minimums"
    eng = RiskEngine(CFG, fixed_qty=Decimal("1"))
    assert vet(entry_signal(), d=day(losses=4), engine=eng).rule == "max_losing_trades_per_day"


def test_refuses_an_exit_of_a_position_another_strategy_holds():
    sig = Signal("ema_cross", "ETHUSDT", Side.LONG, 0, 100.0, 0.0, 0.0, kind=SignalKind.EXIT)
    eng = RiskEngine(CFG)
    theirs = eng.vet(sig, day=day(), equity=Decimal(10_000), available=Decimal(10_000), spec=ETH,
                     has_position=True, has_pending=False, held_by="liquidity_sweep")
    assert not theirs.accepted and theirs.rule == "exit_not_its_position"
    assert "liquidity_sweep" in theirs.text
    mine = eng.vet(sig, day=day(), equity=Decimal(10_000), available=Decimal(10_000), spec=ETH,
                   has_position=True, has_pending=False, held_by="ema_cross")
    assert mine.accepted
