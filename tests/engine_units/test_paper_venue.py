"""PaperVenue as a simulated Binance USDT-M account, driven directly with real events."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from tapedesk.engine.events import (
    Liquidity,
    MarkPrice,
    OrderRole,
    OrderStatus,
    OrderType,
    Quote,
    Side,
)
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.positions import liquidation_price

from tests.engine_units._helpers import HOUR, MIN, T0, RecordingSink, bar, order

ETH = "ETHUSDT"


def make(**kw: object) -> tuple[PaperVenue, RecordingSink]:
    opts: dict[str, object] = {"slippage_bps": 0.0, "latency_ms": 0, "fill_at": "close",
                               "assumed_funding_bps_8h": 0.0}
    opts.update(kw)
    v = PaperVenue(Decimal(opts.pop("balance", 10_000)), **opts)  # type: ignore[arg-type]
    sink = RecordingSink()
    v.bind(sink)
    return v, sink


def quote(ts: int, bid: float, ask: float) -> Quote:
    return Quote(ETH, ts, bid, 5.0, ask, 5.0)


def open_long(v: PaperVenue, qty: str = "1", close: float = 100.0, lev: int = 1) -> None:
    """A long at ``close`` through the venue itself (fill_at=close, no slippage)."""
    v.on_market(bar(0, close, close, close, close))
    v.set_leverage(ETH, lev)
    v.submit(order("e1", "BUY", qty=qty, ts=T0 + MIN - 1))
    assert v.book.get(ETH) is not None


def protect(v: PaperVenue, side: str, stop: str, tp: str, ts: int = T0 + MIN - 1,
            qty: str = "1") -> None:
    v.submit(order("sl", side, OrderType.STOP_MARKET, qty, role=OrderRole.STOP, ts=ts, stop=stop,
                   reduce_only=True))
    v.submit(order("tp", side, OrderType.TAKE_PROFIT_MARKET, qty, role=OrderRole.TAKE_PROFIT,
                   ts=ts, stop=tp, reduce_only=True))


# -- market orders at bid/ask, slippage, latency, fill modes -------------------------------------

def test_market_buy_fills_at_the_ask_and_sell_at_the_bid_when_quotes_exist():
    v, sink = make(fill_at="auto")
    v.on_market(quote(T0, 99.99, 100.01))
    v.submit(order("b", "BUY", ts=T0))
    v.submit(order("s", "SELL", qty="2", ts=T0))
    assert [(f.client_id, f.price) for f in sink.fills] == [("b", Decimal("100.01")),
                                                           ("s", Decimal("99.99"))]


def test_slippage_moves_the_fill_against_us_and_rounds_to_the_adverse_tick():
    v, sink = make(fill_at="auto", slippage_bps=1.0)
    v.on_market(quote(T0, 99.99, 100.01))
    v.submit(order("b", "BUY", ts=T0))
    v.submit(order("s", "SELL", qty="2", ts=T0))
    # 100.01 × 1.0001 = 100.020001 → up to 100.03; 99.99 × 0.9999 = 99.980001 → down to 99.98.
    assert [f.price for f in sink.fills] == [Decimal("100.03"), Decimal("99.98")]
    assert all(f.liquidity is Liquidity.TAKER for f in sink.fills)


def test_order_is_not_filled_by_an_event_before_its_latency_has_passed():
    v, sink = make(fill_at="auto", latency_ms=50)
    v.on_market(quote(T0, 99.99, 100.01))
    v.submit(order("b", "BUY", ts=T0))
    assert sink.status_of("b") == [OrderStatus.NEW] and not sink.fills
    v.on_market(quote(T0 + 49, 100.49, 100.51))
    assert not sink.fills
    v.on_market(quote(T0 + 50, 100.59, 100.61))
    assert [(f.price, f.ts) for f in sink.fills] == [(Decimal("100.61"), T0 + 50)]


def test_latency_longer_than_a_bar_skips_that_bar():
    v, sink = make(fill_at="next-open", latency_ms=2 * MIN)
    v.on_market(bar(0, 100, 100, 100, 100))
    v.submit(order("b", "BUY", ts=T0 + MIN - 1))
    v.on_market(bar(1, 101, 101, 101, 101))
    assert not sink.fills
    v.on_market(bar(2, 102, 102, 102, 102))
    assert [f.price for f in sink.fills] == [Decimal("102.00")]


def test_next_open_mode_fills_a_market_order_at_the_next_bars_open():
    v, sink = make(fill_at="next-open", slippage_bps=1.0)
    v.on_market(bar(0, 99, 100.5, 98.9, 100))
    v.submit(order("b", "BUY", ts=T0 + MIN - 1))
    assert not sink.fills
    v.on_market(bar(1, 100.5, 101, 99, 100.8))
    # 100.5 × 1.0001 = 100.51005 → 100.52, at the bar's open time.
    assert [(f.price, f.ts) for f in sink.fills] == [(Decimal("100.52"), T0 + MIN)]


def test_close_mode_fills_at_once_at_the_signal_bars_close():
    v, sink = make(fill_at="close", latency_ms=50)
    v.on_market(bar(0, 99, 100.5, 98.9, 100.25))
    v.submit(order("b", "BUY", ts=T0 + MIN - 1))
    assert [f.price for f in sink.fills] == [Decimal("100.25")]


# -- fees -------------------------------------------------------------------------------------

def test_taker_fee_is_five_bps_of_the_fill_notional_exactly():
    v, sink = make(fill_at="auto", slippage_bps=1.0)
    v.on_market(quote(T0, 99.99, 100.01))
    v.submit(order("b", "BUY", qty="1.5", ts=T0))
    fill = sink.fills[0]
    assert fill.fee == Decimal("0.0750225")  # 100.03 × 1.5 × 0.0005
    assert v.balance == Decimal(10_000) - Decimal("0.0750225")
    assert v.fees_paid == Decimal("0.0750225")


def test_maker_fee_is_two_bps_on_a_resting_limit_fill_at_its_price():
    v, sink = make()
    v.on_market(bar(0, 100, 100, 100, 100))
    v.submit(order("l", "BUY", OrderType.LIMIT, qty="2", ts=T0 + MIN - 1, price="99.50"))
    v.on_market(bar(1, 100, 100, 99.5, 99.8))  # touched, not traded through: no fill
    assert not sink.fills
    v.on_market(bar(2, 99.8, 99.9, 99.4, 99.6))
    fill = sink.fills[0]
    assert (fill.price, fill.liquidity, fill.fee) == (Decimal("99.50"), Liquidity.MAKER,
                                                      Decimal("0.0398"))  # 199 × 0.0002


def test_fees_are_configurable():
    v, sink = make(fill_at="auto", taker_fee_bps=4.0)
    v.on_market(quote(T0, 1999.99, 2000.01))
    v.submit(order("b", "BUY", qty="0.5", ts=T0))
    assert sink.fills[0].fee == Decimal("0.400002")  # 1000.005 × 0.0004


# -- stops and targets inside bars ------------------------------------------------------------

def test_stop_fills_first_when_one_bar_reaches_both_stop_and_target():
    v, sink = make()
    open_long(v)
    protect(v, "SELL", stop="99", tp="101")
    v.on_market(bar(1, 100, 101.5, 98.5, 100))
    assert [(f.client_id, f.role, f.price) for f in sink.fills[1:]] == [
        ("sl", OrderRole.STOP, Decimal("99.00"))]
    assert sink.status_of("tp")[-1] is OrderStatus.EXPIRED
    assert v.book.get(ETH) is None and not v.orders


def test_short_stop_also_fills_first_when_both_are_inside_one_bar():
    v, sink = make()
    v.on_market(bar(0, 100, 100, 100, 100))
    v.submit(order("e", "SELL", ts=T0 + MIN - 1))
    protect(v, "BUY", stop="101", tp="99")
    v.on_market(bar(1, 100, 101.5, 98.5, 100))
    assert [(f.role, f.price) for f in sink.fills[1:]] == [(OrderRole.STOP, Decimal("101.00"))]
    assert sink.status_of("tp")[-1] is OrderStatus.EXPIRED


def test_take_profit_fills_at_its_trigger_when_only_the_target_is_reached():
    v, sink = make()
    open_long(v)
    protect(v, "SELL", stop="99", tp="101")
    v.on_market(bar(1, 100, 101.2, 99.5, 101))
    assert [(f.role, f.price) for f in sink.fills[1:]] == [
        (OrderRole.TAKE_PROFIT, Decimal("101.00"))]
    assert v.balance == Decimal(10_000) + 1 - Decimal("0.05") - Decimal("0.0505")


def test_a_gap_through_the_stop_fills_at_the_open_not_the_trigger():
    v, sink = make()
    open_long(v)
    protect(v, "SELL", stop="99", tp="101")
    v.on_market(bar(1, 98, 98.4, 97.5, 98.2))
    assert [(f.role, f.price) for f in sink.fills[1:]] == [(OrderRole.STOP, Decimal("98.00"))]


def test_a_gap_through_a_short_stop_fills_at_the_open():
    v, sink = make()
    v.on_market(bar(0, 100, 100, 100, 100))
    v.submit(order("e", "SELL", ts=T0 + MIN - 1))
    protect(v, "BUY", stop="101", tp="99")
    v.on_market(bar(1, 102, 102.5, 101.8, 102))
    assert [(f.role, f.price) for f in sink.fills[1:]] == [(OrderRole.STOP, Decimal("102.00"))]


def test_stop_on_quotes_triggers_on_the_bid_for_a_long():
    v, sink = make(fill_at="auto")
    v.on_market(quote(T0, 99.99, 100.01))
    v.submit(order("e", "BUY", ts=T0))
    protect(v, "SELL", stop="99.50", tp="101", ts=T0)
    v.on_market(quote(T0 + 1, 99.51, 99.53))  # bid 99.51: above the stop
    assert len(sink.fills) == 1
    v.on_market(quote(T0 + 2, 99.48, 99.50))
    assert [(f.role, f.price) for f in sink.fills[1:]] == [(OrderRole.STOP, Decimal("99.48"))]


# -- reduce-only and margin ---------------------------------------------------------------------

def test_reduce_only_is_rejected_with_2022_when_there_is_no_position():
    v, sink = make()
    v.on_market(bar(0, 100, 100, 100, 100))
    v.submit(order("r", "SELL", ts=T0 + MIN - 1, reduce_only=True, role=OrderRole.EXIT))
    assert sink.status_of("r") == [OrderStatus.REJECTED]
    assert sink.reason_of("r").startswith("-2022 ReduceOnly Order is rejected")
    assert v.book.get(ETH) is None and not sink.fills


def test_reduce_only_is_rejected_when_it_would_increase_the_position():
    v, sink = make()
    open_long(v)
    v.submit(order("r", "BUY", ts=T0 + MIN - 1, reduce_only=True, role=OrderRole.EXIT))
    assert sink.status_of("r") == [OrderStatus.REJECTED] and "-2022" in sink.reason_of("r")
    assert v.book.get(ETH).qty == 1


def test_reduce_only_close_never_flips_the_position():
    v, sink = make()
    open_long(v)
    v.submit(order("x", "SELL", qty="3", ts=T0 + MIN - 1, reduce_only=True, role=OrderRole.EXIT))
    assert sink.fills[-1].qty == 1 and v.book.get(ETH) is None


def test_entry_beyond_available_margin_is_rejected_with_2019():
    v, sink = make(balance=100)
    v.on_market(bar(0, 100, 100, 100, 100))
    v.submit(order("big", "BUY", qty="1.01", ts=T0 + MIN - 1))  # needs 101 at 1x
    assert sink.status_of("big") == [OrderStatus.REJECTED]
    assert sink.reason_of("big").startswith("-2019 Margin is insufficient: needs 101.00 USDT, "
                                            "100.00 available")
    v.set_leverage(ETH, 5)
    v.submit(order("ok", "BUY", qty="5", ts=T0 + MIN - 1))  # 500 notional at 5x = 100 margin
    assert sink.status_of("ok") == [OrderStatus.NEW, OrderStatus.FILLED]


def test_order_below_min_notional_is_rejected_with_4164():
    v, sink = make()
    v.on_market(bar(0, 100, 100, 100, 100))
    v.submit(order("tiny", "BUY", qty="0.1", ts=T0 + MIN - 1))
    assert sink.reason_of("tiny").startswith("-4164 notional 10.00 USDT is below the minimum 20")


# -- isolated liquidation -------------------------------------------------------------------------

def test_liquidation_price_matches_binances_isolated_formula_by_hand():
    # LP = (WB + cum − Side·Q·EP) / (Q·MMR − Side·Q)
    # long 1 @ 100, 5x: WB = 20 → (20 − 100) / (0.004 − 1) = 80 / 0.996 = 80.3212851…
    lp = liquidation_price(Side.LONG, Decimal(1), Decimal(100), Decimal(20), Decimal("0.004"),
                           Decimal(0))
    assert lp == Decimal(80) / Decimal("0.996")
    assert lp.quantize(Decimal("0.0001")) == Decimal("80.3213")
    # short 1 @ 100, 5x: (20 + 100) / (0.004 + 1) = 119.5219…
    lp = liquidation_price(Side.SHORT, Decimal(1), Decimal(100), Decimal(20), Decimal("0.004"),
                           Decimal(0))
    assert lp.quantize(Decimal("0.0001")) == Decimal("119.5219")
    # long 0.5 BTC @ 50,000, 10x, cum 50: (2,500 + 50 − 25,000) / (0.002 − 0.5) = 45,080.32…
    lp = liquidation_price(Side.LONG, Decimal("0.5"), Decimal(50_000), Decimal(2_500),
                           Decimal("0.004"), Decimal(50))
    assert lp.quantize(Decimal("0.01")) == Decimal("45080.32")


def test_a_1x_long_cannot_be_liquidated():
    assert liquidation_price(Side.LONG, Decimal(1), Decimal(100), Decimal(100),
                             Decimal("0.004"), Decimal(0)) == 0


def test_isolated_long_is_liquidated_at_lp_and_loses_its_whole_margin():
    v, sink = make()
    open_long(v, lev=5)  # 1 ETH @ 100, 5x, taker fee 0.05
    v.submit(order("tp", "SELL", OrderType.TAKE_PROFIT_MARKET, role=OrderRole.TAKE_PROFIT,
                   ts=T0 + MIN - 1, stop="150", reduce_only=True))
    pos = v.book.get(ETH)
    assert pos.margin == 20
    assert pos.liquidation_price == Decimal(80) / Decimal("0.996")
    v.on_market(bar(1, 90, 90, 80.33, 81))  # low stays above 80.3213: still alive
    assert v.book.get(ETH) is not None
    v.on_market(bar(2, 81, 81, 80.3, 80.5))
    liq = sink.fills[-1]
    assert liq.role is OrderRole.LIQUIDATION and liq.side == "SELL"
    assert liq.price == Decimal(80) / Decimal("0.996")
    assert v.book.get(ETH) is None
    assert v.balance == Decimal(10_000) - Decimal("0.05") - 20  # entry fee + whole margin


def test_a_position_without_resting_orders_is_still_liquidated_by_a_bar():
    v, sink = make()
    open_long(v, lev=5)
    v.on_market(bar(1, 81, 81, 80.3, 80.5))
    assert v.book.get(ETH) is None
    assert sink.fills[-1].role is OrderRole.LIQUIDATION


def test_isolated_short_is_liquidated_by_a_mark_price_above_lp():
    v, sink = make()
    v.on_market(bar(0, 100, 100, 100, 100))
    v.set_leverage(ETH, 5)
    v.submit(order("e", "SELL", ts=T0 + MIN - 1))
    v.on_market(MarkPrice(ETH, T0 + MIN, 119.5, 0.0001, T0 + 8 * HOUR))
    assert v.book.get(ETH) is not None
    v.on_market(MarkPrice(ETH, T0 + MIN + 1000, 119.53, 0.0001, T0 + 8 * HOUR))
    assert sink.fills[-1].role is OrderRole.LIQUIDATION
    assert v.balance == Decimal(10_000) - Decimal("0.05") - 20


# -- funding --------------------------------------------------------------------------------------

def test_assumed_funding_is_charged_every_8_hours_and_longs_pay_a_positive_rate():
    v, sink = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    open_long(v)
    v.on_market(bar(479, 100, 100, 100, 100))  # closes 07:59:59.999: no funding yet
    assert sink.funding == []
    v.on_market(bar(480, 100, 100, 100, 100))  # 08:00 passed
    assert sink.funding == [(ETH, Decimal("-0.01"), 0.0001, T0 + 8 * HOUR)]
    v.on_market(bar(959, 100, 100, 100, 100))
    v.on_market(bar(960, 100, 100, 100, 100))  # 16:00 passed
    assert [f[3] for f in sink.funding] == [T0 + 8 * HOUR, T0 + 16 * HOUR]
    assert v.balance == Decimal(10_000) - Decimal("0.02")
    assert v.book.get(ETH).funding == Decimal("-0.02")


def test_assumed_funding_is_received_by_shorts():
    v, sink = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    v.on_market(bar(0, 100, 100, 100, 100))
    v.submit(order("e", "SELL", qty="2", ts=T0 + MIN - 1))
    v.on_market(bar(480, 100, 100, 100, 100))
    assert sink.funding == [(ETH, Decimal("0.02"), 0.0001, T0 + 8 * HOUR)]


def test_no_funding_is_charged_while_flat():
    v, sink = make(assumed_funding_bps_8h=1.0)
    v.on_market(bar(0, 100, 100, 100, 100))
    v.on_market(bar(480, 100, 100, 100, 100))
    assert sink.funding == []


@pytest.mark.parametrize(("rate", "amount"), [(0.0003, "-0.03"), (-0.0002, "0.02")])
def test_funding_from_mark_price_events_uses_their_rate_and_sign(rate, amount):
    v, sink = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    open_long(v)
    v.on_market(MarkPrice(ETH, T0 + 2 * MIN, 100.0, rate, T0 + 8 * HOUR))
    v.on_market(MarkPrice(ETH, T0 + 8 * HOUR, 100.0, rate, T0 + 16 * HOUR))
    assert sink.funding == [(ETH, Decimal(amount), rate, T0 + 8 * HOUR)]


def test_funding_from_mark_price_events_is_valued_at_the_mark_price():
    v, sink = make(taker_fee_bps=0.0)
    open_long(v)  # last trade price 100
    v.on_market(MarkPrice(ETH, T0 + 2 * MIN, 101.0, 0.0003, T0 + 8 * HOUR))
    v.on_market(MarkPrice(ETH, T0 + 8 * HOUR, 101.0, 0.0003, T0 + 16 * HOUR))
    assert sink.funding[0][1] == Decimal("-0.0303")


def test_a_data_gap_over_three_funding_marks_settles_three_payments():
    v, sink = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    open_long(v)
    v.on_market(bar(25 * 60, 100, 100, 100, 100))  # next event 25 h later
    assert [f[3] for f in sink.funding] == [T0 + 8 * HOUR, T0 + 16 * HOUR, T0 + 24 * HOUR]


def test_mark_price_funding_settles_at_the_rate_announced_for_that_mark():
    v, sink = make(taker_fee_bps=0.0)
    open_long(v)
    v.on_market(MarkPrice(ETH, T0 + 8 * HOUR - 1000, 100.0, 0.0003, T0 + 8 * HOUR))
    v.on_market(MarkPrice(ETH, T0 + 8 * HOUR + 1000, 100.0, -0.0001, T0 + 16 * HOUR))
    assert sink.funding == [(ETH, Decimal("-0.03"), 0.0003, T0 + 8 * HOUR)]


def test_a_position_opened_after_the_funding_mark_pays_no_funding_for_it():
    v, sink = make(fill_at="auto", latency_ms=200, assumed_funding_bps_8h=1.0)
    v.on_market(quote(T0 + 8 * HOUR - 1000, 99.99, 100.01))
    v.submit(order("b", "BUY", ts=T0 + 8 * HOUR - 100))  # active at 08:00:00.100
    v.on_market(quote(T0 + 8 * HOUR + 500, 99.99, 100.01))
    assert sink.fills and sink.fills[0].ts == T0 + 8 * HOUR + 500
    assert sink.funding == []


def test_a_position_held_through_the_funding_mark_pays_even_if_closed_just_after():
    v, sink = make(fill_at="auto", assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    v.on_market(quote(T0 + 8 * HOUR - 1000, 99.99, 100.01))
    v.submit(order("b", "BUY", ts=T0 + 8 * HOUR - 1000))
    protect(v, "SELL", stop="99.50", tp="101", ts=T0 + 8 * HOUR - 1000)
    v.on_market(quote(T0 + 8 * HOUR + 500, 99.40, 99.42))  # stop triggers after the mark
    assert v.book.get(ETH) is None
    assert len(sink.funding) == 1 and sink.funding[0][1] < 0


# -- persistence -----------------------------------------------------------------------------------

def test_state_round_trips_through_json_and_the_restored_venue_behaves_the_same():
    v, sink = make(assumed_funding_bps_8h=1.0)
    open_long(v, qty="2", lev=3)
    protect(v, "SELL", stop="99", tp="103", qty="2")
    state = json.loads(json.dumps(v.to_state()))
    v2, sink2 = make(assumed_funding_bps_8h=1.0)
    v2.load_state(state)
    assert v2.to_state() == state
    pos, pos2 = v.book.get(ETH), v2.book.get(ETH)
    assert (pos2.qty, pos2.entry_price, pos2.leverage, pos2.margin, pos2.liquidation_price) == (
        pos.qty, pos.entry_price, pos.leverage, pos.margin, pos.liquidation_price)
    assert set(v2.orders) == {"sl", "tp"} and v2.available() == v.available()
    stop_bar = bar(1, 100, 100, 98.5, 99)
    v.on_market(stop_bar)
    v2.on_market(stop_bar)
    assert [(f.client_id, f.price, f.fee) for f in sink2.fills] == [
        (f.client_id, f.price, f.fee) for f in sink.fills[1:]]
    assert v2.balance == v.balance and v2.book.get(ETH) is None
