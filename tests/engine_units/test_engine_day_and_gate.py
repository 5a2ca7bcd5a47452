"""The Engine with a PaperVenue and an EventClock: the risk day rolls at 00:00 UTC (or the
configured hour) and unlocks; the gate keeps strategies silent while halted, paused or
locked; refusals are explained; --no-risk and --fixed-qty change only what they say."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tapedesk.engine.backtest import run_backtest
from tapedesk.engine.clock import EventClock
from tapedesk.engine.config import DeskConfig, RiskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import Bar, ExplanationKind, Side, Signal
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.snapshot import DeskState

from tests.engine_units._helpers import HOUR, MIN, T0, ScriptedStrategy, bar, long_at_close

ETH = "ETHUSDT"


def make_engine(strategy: ScriptedStrategy, **risk: object) -> Engine:
    cfg = DeskConfig(symbols=[ETH], risk=RiskConfig(**risk))
    venue = PaperVenue(Decimal(10_000), slippage_bps=0.0, latency_ms=0, fill_at="close",
                       assumed_funding_bps_8h=0.0)
    return Engine(config=cfg, venue=venue, strategies=[strategy], clock=EventClock(),
                  mode="backtest")


def flat(i: int, start: int, px: float = 2000.0) -> Bar:
    return bar(i, px, px, px, px, start=start)


def trade_to_target(eng: Engine, start: int) -> None:
    """Bar 0: long 5.001 ETH @ 2000 (stop 1996, target 2008); bar 1 reaches the target."""
    eng.process(flat(0, start))
    assert eng.day.trades == 1 and eng.position(ETH) is not None
    eng.process(bar(1, 2000, 2009, 1999, 2008, start=start))
    assert len(eng.trades) == 1 and eng.trades[0].reason == "take-profit"


# -- the day roll ---------------------------------------------------------------------------------

def test_day_counters_roll_at_midnight_utc_and_a_locked_day_unlocks():
    start = T0 + 23 * HOUR + 57 * MIN  # 2024-01-01 23:57
    strat = ScriptedStrategy({0: long_at_close()})
    eng = make_engine(strat, max_trades_per_day=1)
    trade_to_target(eng, start)
    d = eng.day
    assert (d.day, d.trades, d.locked) == ("2024-01-01", 1, True)
    assert d.lock_reason.startswith("max trades per day reached: 1 of 1")
    # Sized so a stop-out costs ≈ $30 incl. fees: 30 / (4 + 1.998 fees) = 5.001.
    assert d.realized_pnl == Decimal("29.985996")  # 5.001 × 8 − fees 5.001 − 5.021004
    assert eng.snapshot().state is DeskState.DAY_LOCKED
    eng.process(flat(2, start))  # 23:59: still locked, strategy not asked
    assert strat.calls == 1
    eng.process(flat(3, start))  # 2024-01-02 00:00
    d = eng.day
    assert (d.day, d.trades, d.losses, d.realized_pnl, d.fees, d.locked) == (
        "2024-01-02", 0, 0, 0, 0, False)
    assert strat.calls == 2  # asked again on the first bar of the new day
    assert eng.snapshot().state is DeskState.RUNNING
    assert any(e.text == "New risk day 2024-01-02: counters reset." for e in eng.recent)


def test_day_rolls_at_the_configured_hour_instead_of_midnight():
    start = T0 + 7 * HOUR + 57 * MIN  # 2024-01-01 07:57, day rolls at 08:00 UTC
    strat = ScriptedStrategy({0: long_at_close()})
    eng = make_engine(strat, max_trades_per_day=1, day_roll_hour_utc=8)
    trade_to_target(eng, start)
    assert (eng.day.day, eng.day.locked) == ("2023-12-31", True)
    eng.process(flat(2, start))  # 07:59
    assert eng.day.locked and strat.calls == 1
    eng.process(flat(3, start))  # 08:00
    assert (eng.day.day, eng.day.trades, eng.day.locked) == ("2024-01-01", 0, False)
    assert strat.calls == 2


def test_midnight_does_not_roll_the_day_when_the_roll_hour_is_eight():
    eng = make_engine(ScriptedStrategy(), day_roll_hour_utc=8)
    start = T0 + 23 * HOUR + 59 * MIN
    eng.process(flat(0, start))
    eng.process(flat(1, start))  # 2024-01-02 00:00
    assert eng.day.day == "2024-01-01"


def test_a_losing_trade_past_the_daily_loss_cap_locks_the_day():
    start = T0 + 12 * HOUR
    strat = ScriptedStrategy({0: long_at_close(), 2: long_at_close()})
    eng = make_engine(strat, daily_loss_cap=Decimal(10))
    eng.process(flat(0, start))
    eng.process(bar(1, 2000, 2001, 1995, 1996, start=start))  # stop 1996 hit
    assert eng.trades[0].reason == "stop-loss"
    # 5.001 × −4 = −20.004, fees 5.001 + 4.990998: the stop-out costs the 0.30 % risked.
    assert eng.day.realized_pnl == Decimal("-29.995998") and eng.day.losses == 1
    assert eng.day.locked and eng.day.lock_reason.startswith("daily loss cap reached")
    eng.process(flat(2, start))
    assert eng.position(ETH) is None and strat.calls == 1


# -- the gate ------------------------------------------------------------------------------------

async def test_a_paused_desk_does_not_ask_strategies_until_resumed():
    strat = ScriptedStrategy()
    eng = make_engine(strat)
    eng.process(flat(0, T0))
    await eng.pause()
    eng.process(flat(1, T0))
    assert strat.calls == 1 and eng.snapshot().state is DeskState.PAUSED
    await eng.resume()
    eng.process(flat(2, T0))
    assert strat.calls == 2


async def test_a_halted_desk_is_flat_and_silent_until_the_halt_is_lifted():
    strat = ScriptedStrategy({0: long_at_close()})
    eng = make_engine(strat)
    eng.process(flat(0, T0))
    assert eng.position(ETH) is not None
    await eng.emergency_stop()
    assert eng.position(ETH) is None and not eng.venue.orders
    assert eng.trades[-1].reason == "emergency stop"
    eng.process(flat(1, T0))
    assert strat.calls == 1 and eng.snapshot().state is DeskState.HALTED
    await eng.resume_from_halt()
    eng.process(flat(2, T0))
    assert strat.calls == 2


# -- refusals are explained ------------------------------------------------------------------------

def test_a_refused_signal_is_explained_with_the_rule_and_numbers_and_places_no_order():
    def wide(b: Bar) -> Signal:
        return Signal("scripted", ETH, Side.LONG, b.ts, 100.0, 99.58, 100.5)

    eng = make_engine(ScriptedStrategy({0: wide}))
    eng.process(bar(0, 100, 100, 100, 100))
    refused = [e for e in eng.recent if e.kind is ExplanationKind.REFUSED]
    assert [e.text for e in refused] == [
        "Refused long ETHUSDT (scripted): stop distance 0.42 % is outside 0.15–0.35 %"]
    assert refused[0].rule == "stop_distance_band"
    assert eng.position(ETH) is None and not eng.venue.orders


def test_an_accepted_signal_gets_an_exchange_side_stop_and_target():
    eng = make_engine(ScriptedStrategy({0: long_at_close()}))
    eng.process(flat(0, T0))
    pos = eng.position(ETH)
    assert (pos.qty, pos.entry_price, pos.stop_loss, pos.take_profit, pos.leverage) == (
        Decimal("5.001"), Decimal("2000.00"), Decimal("1996.00"), Decimal("2008.00"), 2)
    kinds = sorted(str(r.intent.type) for r in eng.venue.orders.values())
    assert kinds == ["STOP_MARKET", "TAKE_PROFIT_MARKET"]
    assert all(r.intent.reduce_only for r in eng.venue.orders.values())


def test_the_exchange_stop_is_never_farther_from_entry_than_the_vetted_stop():
    def edge(b: Bar) -> Signal:
        return Signal("scripted", ETH, Side.LONG, b.ts, 2000.01, 1993.00996)

    eng = make_engine(ScriptedStrategy({0: edge}))
    eng.process(flat(0, T0, px=2000.01))
    pos = eng.position(ETH)
    assert pos is not None  # accepted: 0.35 % at 0.1 bp resolution
    assert pos.stop_loss >= Decimal("1993.00996")


# -- --no-risk and --fixed-qty ------------------------------------------------------------------

def one_percent_stop(b: Bar) -> Signal:
    return Signal("scripted", b.symbol, Side.LONG, b.ts, b.close, b.close * 0.99, b.close + 20)


def events() -> list[Bar]:
    return [bar(0, 2000, 2000, 2000, 2000), bar(1, 2000, 2030, 1999, 2025)]


def test_without_no_risk_a_one_percent_stop_is_refused():
    res = run_backtest(events(), [ScriptedStrategy({0: one_percent_stop})], fill_at="close",
                       slippage_bps=0.0)
    assert res.trades == []
    assert any(e.rule == "stop_distance_band" for e in res.explanations)
    assert not any("NO RISK" in label for label in res.labels)


def test_no_risk_takes_the_trade_sized_by_risk_and_says_so_in_the_labels():
    res = run_backtest(events(), [ScriptedStrategy({0: one_percent_stop})], fill_at="close",
                       slippage_bps=0.0, no_risk=True)
    assert [(t.qty, t.reason) for t in res.trades] == [(Decimal("1.364"), "take-profit")]
    assert "NO RISK RULES (research only: day caps and stop band not applied)" in res.labels


def test_fixed_qty_trades_exactly_that_quantity_and_says_so_in_the_labels():
    res = run_backtest(events(), [ScriptedStrategy({0: one_percent_stop})], fill_at="close",
                       slippage_bps=0.0, no_risk=True, fixed_qty=Decimal("0.5"))
    trade = res.trades[0]
    assert (trade.qty, trade.entry_price, trade.exit_price) == (
        Decimal("0.5"), Decimal("2000.0"), Decimal("2020.0"))
    assert trade.gross_pnl == Decimal(10)
    assert trade.fees == Decimal("0.5000") + Decimal("0.5050")  # taker 5 bps each way
    assert "FIXED QTY 0.5 per trade (risk sizing bypassed)" in res.labels


# -- next-open fills inside the Engine -----------------------------------------------------------

def next_open_engine(strategy: ScriptedStrategy) -> Engine:
    venue = PaperVenue(Decimal(10_000), slippage_bps=0.0, latency_ms=50, fill_at="next-open",
                       assumed_funding_bps_8h=0.0)
    return Engine(config=DeskConfig(symbols=[ETH]), venue=venue, strategies=[strategy],
                  clock=EventClock(), mode="backtest")


def test_next_open_entry_gets_a_stop_that_is_live_for_the_rest_of_its_bar():
    eng = next_open_engine(ScriptedStrategy({0: long_at_close()}))
    eng.process(flat(0, T0))
    assert eng.position(ETH) is None  # waits for the next bar's open
    eng.process(bar(1, 2000, 2001, 1990, 1995, start=T0))
    trip = eng.trades[0]
    assert (trip.entry_price, trip.exit_price, trip.reason) == (
        Decimal("2000.00"), Decimal("1996.00"), "stop-loss")
    assert trip.entry_ts == T0 + MIN  # filled at bar 1's open time


def test_a_target_placed_mid_bar_waits_for_the_next_bar():
    eng = next_open_engine(ScriptedStrategy({0: long_at_close()}))
    eng.process(flat(0, T0))
    eng.process(bar(1, 2000, 2010, 1999, 2005, start=T0))  # high passes 2008 after the entry
    assert eng.position(ETH) is not None and eng.trades == []
    eng.process(bar(2, 2005, 2009, 2004, 2008, start=T0))
    assert [(t.exit_price, t.reason) for t in eng.trades] == [(Decimal("2008.00"), "take-profit")]


# -- the desk's books agree with the venue's -----------------------------------------------------

def test_a_round_trip_over_a_funding_mark_books_fees_and_funding_like_the_venue():
    start = T0 + 7 * HOUR + 58 * MIN  # 07:58: the 08:00 funding mark falls inside the trade
    venue = PaperVenue(Decimal(10_000), slippage_bps=0.0, latency_ms=0, fill_at="close",
                       assumed_funding_bps_8h=1.0)
    eng = Engine(config=DeskConfig(symbols=[ETH]), venue=venue,
                 strategies=[ScriptedStrategy({0: long_at_close()})], clock=EventClock(),
                 mode="backtest")
    eng.process(flat(0, start))
    eng.process(flat(1, start))
    eng.process(flat(2, start))  # 08:00: a long pays 5.001 × 2000 × 0.0001 = 1.0002
    eng.process(bar(3, 2000, 2009, 1999, 2008, start=start))
    trip = eng.trades[0]
    assert trip.funding == Decimal("-1.0002")
    assert trip.fees == Decimal("5.001") + Decimal("5.021004")
    assert trip.gross_pnl == Decimal("40.008")
    assert trip.pnl == Decimal("40.008") - Decimal("10.022004") - Decimal("1.0002")
    assert eng.day.realized_pnl == trip.pnl
    assert eng.balance == venue.balance == Decimal(10_000) + trip.pnl


# -- each day rule locks the day through real trades -----------------------------------------

TO_TARGET = (2000, 2009, 1999, 2008)  # +29.99 net
TO_STOP = (2000, 2001, 1995, 1996)    # −30.00 net


@pytest.mark.parametrize(("risk", "path", "reason"), [
    ({"max_trades_per_day": 1}, TO_TARGET, "max trades per day reached: 1 of 1"),
    ({"max_losing_trades_per_day": 1}, TO_STOP, "max losing trades per day reached: 1 of 1"),
    ({"daily_loss_cap": Decimal(25)}, TO_STOP, "daily loss cap reached: day P&L -$30.00"),
    ({"daily_profit_lock": Decimal(25)}, TO_TARGET, "daily profit lock reached: day P&L $29.99"),
])
def test_each_day_rule_locks_the_day_after_the_trade_that_reaches_it(risk, path, reason):
    strat = ScriptedStrategy({0: long_at_close()})
    eng = make_engine(strat, **risk)
    eng.process(flat(0, T0))
    eng.process(bar(1, *path, start=T0))
    assert eng.day.locked and eng.day.lock_reason.startswith(reason)
    assert any(e.text.startswith(f"DAY LOCKED: {reason}") and
               e.text.endswith("Trading resumes at the next 00:00 UTC reset.") for e in eng.recent)
    assert eng.snapshot().extra["gate"].startswith("day locked: ")


@pytest.mark.parametrize(("risk", "path"), [
    ({"max_trades_per_day": 2}, TO_TARGET),
    ({"max_losing_trades_per_day": 2}, TO_STOP),
    ({"daily_loss_cap": Decimal(31)}, TO_STOP),
    ({"daily_profit_lock": Decimal(31)}, TO_TARGET),
])
def test_a_trade_that_stays_inside_every_day_rule_leaves_the_day_open(risk, path):
    eng = make_engine(ScriptedStrategy({0: long_at_close()}), **risk)
    eng.process(flat(0, T0))
    eng.process(bar(1, *path, start=T0))
    assert len(eng.trades) == 1 and not eng.day.locked


def test_in_the_engine_a_bar_through_stop_and_target_books_the_stop_and_cancels_the_target():
    eng = make_engine(ScriptedStrategy({0: long_at_close()}))
    eng.process(flat(0, T0))
    eng.process(bar(1, 2000, 2010, 1990, 2000, start=T0))
    assert [(t.exit_price, t.reason) for t in eng.trades] == [(Decimal("1996.00"), "stop-loss")]
    assert eng.venue.orders == {} and eng.position(ETH) is None and eng.day.losses == 1
