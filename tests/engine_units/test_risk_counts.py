"""RiskEngine counts what it refuses and takes --no-margin-check itself (a backtest reads both
without wrapping vet), and a strategy's last signal is worded only when it is shown."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import Side, Signal, SignalKind
from tapedesk.engine.risk import DayCounters, RiskEngine
from tapedesk.engine.strategy_roster import StratState
from tapedesk.engine.symbols import spec_for

from tests.engine_units._helpers import entry_signal

BTC = spec_for("BTCUSDT")
DAY = DayCounters("2024-01-01")


def _vet(eng: RiskEngine, sig: Signal, *, available: str = "10000", held_by: str = "",
         has_position: bool = False):
    return eng.vet(sig, day=DAY, equity=Decimal("10000"), available=Decimal(available),
                   spec=BTC, has_position=has_position, has_pending=False, held_by=held_by)


def test_refusals_are_counted_by_rule_in_the_order_first_seen_and_acceptances_are_not():
    eng = RiskEngine(RiskConfig(), enabled=False, fixed_qty=Decimal("0.01"))
    sig = entry_signal(entry=50_000.0, stop=49_900.0, symbol="BTCUSDT")
    assert _vet(eng, sig).accepted
    assert eng.refused == {}
    assert _vet(eng, sig, available="1").rule == "margin_available"
    assert _vet(eng, sig, has_position=True).rule == "one_position_per_symbol"
    assert _vet(eng, sig, available="0").rule == "margin_available"
    exit_sig = Signal("spec", "BTCUSDT", Side.LONG, 0, 50_000.0, kind=SignalKind.EXIT)
    assert _vet(eng, exit_sig, held_by="other").rule == "exit_not_its_position"
    assert list(eng.refused.items()) == [("margin_available", 2),
                                         ("one_position_per_symbol", 1),
                                         ("exit_not_its_position", 1)]


def test_without_the_margin_check_the_margin_rule_sees_unlimited_margin():
    sig = entry_signal(entry=50_000.0, stop=49_900.0, symbol="BTCUSDT")
    checked = RiskEngine(RiskConfig(), enabled=False, fixed_qty=Decimal("1"))
    refused = _vet(checked, sig, available="5")
    assert not refused.accepted and refused.rule == "margin_available"
    assert refused.text == "needs $10,000.00 isolated margin, $5.00 available"
    unchecked = RiskEngine(RiskConfig(), enabled=False, fixed_qty=Decimal("1"),
                           margin_check=False)
    dec = _vet(unchecked, sig, available="5")
    assert dec.accepted and "margin_available" in dec.passed
    assert dec.numbers["available"] == "Infinity" and unchecked.refused == {}


def test_a_strategy_shows_its_last_signal_worded_as_before():
    st = StratState()
    assert st.last_signal == ""
    st.last = (SignalKind.ENTRY, Side.SHORT, 16543.21)  # as decision_side keeps it
    assert st.last_signal == "entry short @ 16,543.21"
    st.last = (SignalKind.REVERSE, Side.LONG, 1.23456)
    assert st.last_signal == "reverse long @ 1.2346"
