"""The venue fed Binance-shaped user-stream messages directly: partial fills, REST/stream races,
algo-spawned orders that report before ALGO_UPDATE, account updates, malformed messages."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tapedesk.engine.binance.account import Bracket
from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.events import (
    Fill,
    Liquidity,
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderType,
    Trade,
)

from tests.live.conftest import wait_until
from tests.live.venue_fakes import (
    algo_update,
    make_venue,
    order_row,
    order_update,
    trade_row,
)

D = Decimal
ENTRY = "td-p1-e"
STOP = "td-p1-s"


def track_entry(venue, qty="0.005"):
    venue.track([OrderIntent(ENTRY, "BTCUSDT", "BUY", OrderType.MARKET, D(qty),
                             OrderRole.ENTRY, 0)])


def track_stop(venue):
    venue.track([OrderIntent(STOP, "BTCUSDT", "SELL", OrderType.STOP_MARKET, D("0.005"),
                             OrderRole.STOP, 0, stop_price=D("59800"), reduce_only=True)])


THREE_TRADES = [
    order_update(ENTRY, 11, "TRADE", "PARTIALLY_FILLED", z="0.002", l="0.002", L="60000.1",
                 n="0.06000010", t=501, ap="60000.1"),
    order_update(ENTRY, 11, "TRADE", "PARTIALLY_FILLED", z="0.004", l="0.002", L="60000.2",
                 n="0.06000020", t=502, ap="60000.15"),
    order_update(ENTRY, 11, "TRADE", "FILLED", z="0.005", l="0.001", L="60000.3",
                 n="0.03000015", t=503, ap="60000.18"),
]


async def test_market_order_filled_in_three_trades_is_three_fills():
    venue, _gate, sink = make_venue()
    track_entry(venue)
    for msg in THREE_TRADES + THREE_TRADES[1:2]:  # the second one replayed: dropped
        venue._on_user_message(msg)
    assert [(f.qty, f.price, f.fee, f.trade_id) for f in sink.fills] == [
        (D("0.002"), D("60000.1"), D("0.06000010"), "501"),
        (D("0.002"), D("60000.2"), D("0.06000020"), "502"),
        (D("0.001"), D("60000.3"), D("0.03000015"), "503")]
    assert [f.seq for f in sink.fills] == [1, 2, 3]
    assert {f.role for f in sink.fills} == {OrderRole.ENTRY}
    assert sink.statuses(ENTRY) == ["PARTIALLY_FILLED", "PARTIALLY_FILLED", "FILLED"]
    assert sink.last(ENTRY).filled_qty == D("0.005")
    await venue.close()


async def test_rest_catch_up_racing_the_stream_reports_each_trade_once():
    venue, gate, sink = make_venue()
    track_entry(venue)
    gate.answers["futures_get_order"] = order_row(ENTRY, 11, "FILLED", "0.005", "60000.18")
    gate.answers["futures_account_trades"] = [
        trade_row(501, 11, "0.002", "60000.1", "0.06000010"),
        trade_row(502, 11, "0.002", "60000.2", "0.06000020"),
        trade_row(503, 11, "0.001", "60000.3", "0.03000015"),
        trade_row(777, 12, "0.009", "1", "0")]  # another order's trade: not this order's
    venue._on_user_message(THREE_TRADES[0])
    tr = venue.orders[ENTRY]
    await venue.book.catch_up(tr)  # REST brings 501-503 while the stream is behind
    for msg in THREE_TRADES[1:]:
        venue._on_user_message(msg)
    assert [f.trade_id for f in sink.fills] == ["501", "502", "503"]
    assert sum(f.qty for f in sink.fills) == D("0.005")
    assert sink.statuses(ENTRY)[-1] == "FILLED"
    await venue.close()


async def test_a_trade_missed_by_the_stream_is_fetched_before_the_order_counts_as_filled():
    venue, gate, sink = make_venue()
    track_entry(venue)
    gate.answers["futures_get_order"] = order_row(ENTRY, 11, "FILLED", "0.005", "60000.18")
    gate.answers["futures_account_trades"] = [
        trade_row(501, 11, "0.002", "60000.1", "0.06000010"),
        trade_row(502, 11, "0.002", "60000.2", "0.06000020"),
        trade_row(503, 11, "0.001", "60000.3", "0.03000015")]
    venue._on_user_message(THREE_TRADES[0])
    venue._on_user_message(THREE_TRADES[2])  # 502 never arrived on the stream
    assert sink.statuses(ENTRY) == ["PARTIALLY_FILLED"]  # not FILLED with 0.002 missing
    await wait_until(lambda: len(sink.fills) == 3, what="missing trade fetched")
    assert sorted(f.trade_id for f in sink.fills) == ["501", "502", "503"]
    await wait_until(lambda: sink.statuses(ENTRY)[-1:] == ["FILLED"])
    await venue.close()


async def test_spawned_stop_order_reporting_before_algo_update_is_the_stops_fill():
    venue, _gate, sink = make_venue()
    track_stop(venue)
    venue._on_user_message(algo_update(STOP, 9001, "NEW"))
    # Binance: the triggered stop's MARKET order carries its own client id and order id and
    # may report before the ALGO_UPDATE that names it (ai).
    venue._on_user_message(order_update("x-Qa8s9TfG", 4242, "NEW", "NEW", S="SELL",
                                        ot="STOP_MARKET"))
    venue._on_user_message(order_update("x-Qa8s9TfG", 4242, "TRADE", "FILLED", z="0.005",
                                        l="0.005", L="59795.5", n="0.14948875", t=601,
                                        ap="59795.5", S="SELL", ot="STOP_MARKET"))
    assert sink.fills == []  # held, not dropped
    venue._on_user_message(algo_update(STOP, 9001, "TRIGGERED", ai="4242"))
    venue._on_user_message(algo_update(STOP, 9001, "FINISHED", ai="4242"))
    fill = sink.fills[0]
    assert (fill.client_id, fill.role, fill.side, fill.qty, fill.price, fill.fee,
            fill.trade_id) == (STOP, OrderRole.STOP, "SELL", D("0.005"), D("59795.5"),
                               D("0.14948875"), "601")
    assert sink.statuses(STOP)[-1] == "FILLED"
    assert len(sink.fills) == 1
    await venue.close()


async def test_spawned_order_without_any_algo_update_is_matched_by_asking_the_algo_service():
    venue, gate, sink = make_venue()
    track_stop(venue)
    gate.answers["futures_get_algo_order"] = {
        "algoId": 9001, "clientAlgoId": STOP, "algoStatus": "TRIGGERED",
        "actualOrderId": "4242", "orderType": "STOP_MARKET"}
    venue._on_user_message(order_update("x-Qa8s9TfG", 4242, "TRADE", "FILLED", z="0.005",
                                        l="0.005", L="59795.5", n="0.14948875", t=601,
                                        S="SELL", ot="STOP_MARKET"))
    await wait_until(lambda: sink.fills, what="stop fill after the look-up")
    assert sink.fills[0].client_id == STOP and sink.fills[0].role is OrderRole.STOP
    await venue.close()


async def test_a_trade_nobody_claims_is_reported_not_silently_dropped():
    venue, _gate, sink = make_venue()
    venue._on_user_message(order_update("web_manual", 77, "TRADE", "FILLED", z="0.002",
                                        l="0.002", L="60000", t=900))
    await wait_until(lambda: any("did not place" in e for e in sink.errors))
    assert sink.fills == []
    await venue.close()


async def test_liquidation_arrives_as_liquidation_fills():
    venue, _gate, sink = make_venue()
    venue._on_user_message(order_update("autoclose-1700000000", 88, "CALCULATED", "FILLED",
                                        z="0.005", l="0.005", L="48000", n="1.2", t=950,
                                        S="SELL"))
    assert [(f.role, f.qty, f.side) for f in sink.fills] == [
        (OrderRole.LIQUIDATION, D("0.005"), "SELL")]
    assert any("liquidation" in e for e in sink.errors)
    await venue.close()


async def test_restored_stop_that_filled_while_the_desk_was_down_reaches_the_engine():
    venue, gate, sink = make_venue()
    gate.answers["futures_get_algo_order"] = {
        "algoId": 9001, "clientAlgoId": STOP, "algoStatus": "FINISHED", "actualOrderId": "4242",
        "orderType": "STOP_MARKET"}
    gate.answers["futures_get_order"] = order_row("x-Qa8s9TfG", 4242, "FILLED", "0.005",
                                                  "59795.5")
    gate.answers["futures_account_trades"] = [
        trade_row(601, 4242, "0.003", "59795.5", "0.0896", side="SELL"),
        trade_row(602, 4242, "0.002", "59795.4", "0.0597", side="SELL")]
    track_stop(venue)
    await wait_until(lambda: sink.statuses(STOP)[-1:] == ["FILLED"], what="stop filled")
    assert [(f.role, f.qty, f.price, f.fee, f.trade_id) for f in sink.fills] == [
        (OrderRole.STOP, D("0.003"), D("59795.5"), D("0.0896"), "601"),
        (OrderRole.STOP, D("0.002"), D("59795.4"), D("0.0597"), "602")]
    await asyncio.sleep(0.1)
    venue._on_user_message(algo_update(STOP, 9001, "FINISHED", ai="4242"))
    assert len(sink.fills) == 2
    await venue.close()


async def test_account_update_keeps_wallet_available_and_funding():
    venue, _gate, sink = make_venue()
    venue._on_user_message({"e": "ACCOUNT_UPDATE", "E": 1, "T": 2, "a": {
        "m": "ORDER", "B": [{"a": "USDT", "wb": "1000.50", "cw": "880.25", "bc": "0"}],
        "P": [{"s": "BTCUSDT", "pa": "0.005", "ep": "60000.1", "bep": "60000.2", "cr": "0",
               "up": "0", "mt": "isolated", "iw": "120.25", "ps": "BOTH"}]}})
    assert venue.balance == D("1000.50") and venue.available() == D("880.25")
    assert venue.positions["BTCUSDT"].qty == D("0.005")
    venue._on_user_message({"e": "ACCOUNT_UPDATE", "E": 3, "T": 4, "a": {
        "m": "FUNDING_FEE", "B": [{"a": "USDT", "wb": "1000.44", "cw": "880.19",
                                   "bc": "-0.06"}],
        "P": [{"s": "BTCUSDT", "pa": "0.005", "ep": "60000.1", "bep": "60000.2", "cr": "0",
               "up": "0", "mt": "isolated", "iw": "120.25", "ps": "BOTH"}]}})
    (sym, amount, rate, ts), = sink.funding
    assert (sym, amount, ts) == ("BTCUSDT", D("-0.06"), 4)
    assert abs(rate - 0.0002) < 1e-9  # a long paid 0.06 on 300 USDT: the rate was +0.02 %
    assert venue.balance == D("1000.44")
    venue._on_user_message({"e": "ACCOUNT_UPDATE", "E": 5, "T": 6, "a": {  # cross: no "P"
        "m": "FUNDING_FEE", "B": [{"a": "USDT", "wb": "1000.50", "cw": "880.25",
                                   "bc": "0.06"}]}})
    assert sink.funding[-1][:2] == ("BTCUSDT", D("0.06"))  # the one open position
    await venue.close()


async def test_malformed_messages_are_logged_and_skipped(caplog):
    venue, _gate, sink = make_venue()
    track_entry(venue)
    venue._on_user_message({"e": "ORDER_TRADE_UPDATE", "o": {"s": "BTCUSDT"}})
    venue._on_user_message({"e": "ACCOUNT_UPDATE", "a": {"B": [{"a": "USDT", "wb": "x"}]}})
    venue._on_user_message({"e": "ALGO_UPDATE"})
    venue._on_user_message(THREE_TRADES[0])  # the stream goes on
    assert venue.events.skipped == 3
    assert "malformed" in caplog.text
    assert len(sink.fills) == 1
    await venue.close()


async def test_brackets_and_commission_are_read_from_the_account():
    venue, gate, _sink = make_venue()
    gate.answers["futures_leverage_bracket"] = [{"symbol": "BTCUSDT", "brackets": [
        {"bracket": 2, "initialLeverage": 100, "notionalCap": 600000, "notionalFloor": 50000,
         "maintMarginRatio": 0.005, "cum": 50.0},
        {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
         "maintMarginRatio": 0.004, "cum": 0.0}]}]
    gate.answers["futures_commission_rate"] = {"symbol": "BTCUSDT",
                                               "makerCommissionRate": "0.000180",
                                               "takerCommissionRate": "0.000450"}
    gate.answers["futures_account_balance"] = [{"asset": "USDT", "balance": "100009.00",
                                                "availableBalance": "99000.00"}]
    await venue.load_terms()
    assert venue.brackets["BTCUSDT"] == [Bracket(D(50000), D("0.004"), D(0)),
                                         Bracket(D(600000), D("0.005"), D(50))]
    assert (venue.maker_fee, venue.taker_fee) == (D("0.000180"), D("0.000450"))
    assert venue.spec("BTCUSDT").maint_margin_rate == D("0.004")
    assert await venue.fetch_balance() == D("100009.00")
    assert venue.available() == D("99000.00")
    await venue.close()


async def test_unknown_status_is_not_final_and_a_late_fill_is_never_dropped():
    venue, gate, sink = make_venue()
    gate.answers["futures_create_order"] = VenueError("no answer", unknown_outcome=True)
    gate.answers["futures_get_order"] = VenueError("Order does not exist.", code=-2013)
    venue.on_market(Trade("BTCUSDT", 0, 60000.0, 1.0, False))
    venue.submit(OrderIntent(ENTRY, "BTCUSDT", "BUY", OrderType.MARKET, D("0.005"),
                             OrderRole.ENTRY, 0))
    await wait_until(lambda: sink.statuses(ENTRY)[-1:] == ["REJECTED"], what="declared missing")
    assert sink.statuses(ENTRY) == ["UNKNOWN", "REJECTED"]
    assert gate.count("futures_create_order") == 1
    assert OrderStatus.UNKNOWN.value == "UNKNOWN"
    venue._on_user_message(THREE_TRADES[2])  # Binance proves us wrong, late: report it
    assert len(sink.fills) == 1 and sink.fills[0].trade_id == "503"
    assert any("filled after all" in e for e in sink.errors)
    await venue.close()


async def test_restored_order_with_journaled_fills_reports_only_the_new_ones():
    venue, gate, sink = make_venue()
    gate.answers["futures_get_order"] = order_row(ENTRY, 11, "FILLED", "0.005", "60000.18")
    gate.answers["futures_account_trades"] = [
        trade_row(501, 11, "0.002", "60000.1", "0.06000010"),
        trade_row(502, 11, "0.003", "60000.2", "0.09000030")]
    journaled = Fill(ENTRY, "BTCUSDT", "BUY", D("0.002"), D("60000.1"), D("0.06000010"), 1,
                     Liquidity.TAKER, OrderRole.ENTRY, seq=1, trade_id="501")
    venue.track([OrderIntent(ENTRY, "BTCUSDT", "BUY", OrderType.LIMIT, D("0.005"),
                             OrderRole.ENTRY, 0, price=D("60001"))], fills=[journaled])
    await wait_until(lambda: sink.statuses(ENTRY)[-1:] == ["FILLED"])
    assert [(f.trade_id, f.seq, f.qty) for f in sink.fills] == [("502", 2, D("0.003"))]
    await venue.close()


async def test_cancel_of_an_order_still_unknown_is_carried_out_when_it_turns_up():
    venue, gate, sink = make_venue()
    gate.answers["futures_create_order"] = VenueError("no answer", unknown_outcome=True)
    gate.answers["futures_get_order"] = VenueError("Order does not exist.", code=-2013)
    gate.answers["futures_cancel_order"] = VenueError("Unknown order sent.", code=-2013)
    lim = "td-c9-e"
    venue.submit(OrderIntent(lim, "BTCUSDT", "BUY", OrderType.LIMIT, D("0.005"),
                             OrderRole.ENTRY, 0, price=D("59000")))
    await wait_until(lambda: sink.statuses(lim) == ["UNKNOWN"])
    await venue.cancel_async("BTCUSDT", lim)
    gate.answers["futures_cancel_order"] = {"orderId": 31, "status": "CANCELED"}
    venue._on_user_message(order_update(lim, 31, "NEW", "NEW", ot="LIMIT"))  # there after all
    await wait_until(lambda: sink.statuses(lim)[-1:] == ["CANCELED"], what="canceled late")
    assert gate.count("futures_cancel_order") == 2
    assert gate.count("futures_create_order") == 1
    await venue.close()


def test_track_before_the_loop_runs_is_resynced_when_the_stream_connects():
    venue, gate, _sink = make_venue()
    track_entry(venue)  # no running loop: nothing spawned, nothing lost
    gate.answers["futures_get_order"] = order_row(ENTRY, 11, "NEW", "0")
    gate.answers["futures_position_information"] = []
    gate.answers["futures_account_balance"] = []
    asyncio.run(venue.resync())
    assert ("futures_get_order", {"symbol": "BTCUSDT", "origClientOrderId": ENTRY}) in gate.calls
