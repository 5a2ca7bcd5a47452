"""Attacks on BinanceVenue alone (the desk's exchange edge) with the local exchange behaving
like Binance: the order a triggered algo stop spawns carries a client id of its own and
reports before TRIGGERED; a MARKET order fills in several trades; fills that happened while
nobody listened are fetched from userTrades exactly once (issue 8, items 2 and 3).

These pass today: the venue maps the spawned order through ALGO_UPDATE's ``ai`` and catches
the fills up from userTrades when FINISHED arrives first; they guard that.
"""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.binance.venue import client_order_id
from tapedesk.engine.events import OrderIntent, OrderRole, OrderType

from tests.live.conftest import wait_until

D = Decimal


def intent(cid, side="BUY", qty="0.006", type=OrderType.MARKET, role=OrderRole.ENTRY, **kw):
    return OrderIntent(cid, "BTCUSDT", side, type, D(qty), role, 0, **kw)


async def test_entry_in_three_trades_reports_three_fills_once_each(exchange, venue, sink):
    exchange.behaviour.market_split = [D("0.5"), D("0.3"), D("0.2")]
    exchange.behaviour.ack_replies = True
    cid = client_order_id("v1", OrderRole.ENTRY)
    venue.submit(intent(cid))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"], timeout=15, what="entry filled")
    assert [f.qty for f in sink.fills] == [D("0.003"), D("0.001"), D("0.002")]
    assert [f.price for f in sink.fills] == [D("60000.1"), D("60000.2"), D("60000.3")]
    assert len({f.trade_id for f in sink.fills}) == 3
    assert sum(f.fee for f in sink.fills) == sum(
        D(t["commission"]) for t in exchange.account.trades)


async def _long_with_stop(exchange, venue, sink, token):
    cid = client_order_id(token, OrderRole.ENTRY)
    venue.submit(intent(cid, qty="0.002"))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"], timeout=15, what="entry filled")
    sl = client_order_id(token, OrderRole.STOP)
    venue.submit(intent(sl, "SELL", qty="0.002", type=OrderType.STOP_MARKET,
                        role=OrderRole.STOP, stop_price=D("59900"), reduce_only=True))
    await wait_until(lambda: sink.statuses(sl) == ["NEW"], timeout=15, what="stop accepted")
    return sl


async def test_triggered_stop_fill_is_reported_under_the_stop(exchange, venue, sink):
    exchange.behaviour.algo_new_client_id = exchange.behaviour.algo_order_first = True
    sl = await _long_with_stop(exchange, venue, sink, "v2")
    await exchange.set_price("BTCUSDT", "59890")
    await wait_until(lambda: exchange.account.positions["BTCUSDT"].amount == 0, 15)
    await wait_until(lambda: any(f.role is OrderRole.STOP for f in sink.fills), 15,
                     what="the stop's fill reported")
    stop_fills = [f for f in sink.fills if f.role is OrderRole.STOP]
    assert [(f.client_id, f.side, f.qty) for f in stop_fills] == [(sl, "SELL", D("0.002"))]
    await wait_until(lambda: sink.statuses(sl)[-1] == "FILLED", 15, what="stop FILLED")
    await exchange.set_price("BTCUSDT", "59880")  # later events change nothing
    assert len([f for f in sink.fills if f.role is OrderRole.STOP]) == 1


async def test_funding_on_a_live_position_is_reported(exchange, venue, sink):
    cid = client_order_id("v3", OrderRole.ENTRY)
    venue.submit(intent(cid, qty="0.002"))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"], timeout=15, what="entry filled")
    paid = await exchange.funding("BTCUSDT", "0.0001")
    assert paid == D("-0.012")  # 0.002 × 60,000 × 0.01 %, a long pays
    await wait_until(lambda: bool(sink.funding), 3, what="funding reported")
    symbol, amount, _rate, _ts = sink.funding[0]
    assert (symbol, D(str(amount))) == ("BTCUSDT", paid)


async def test_503_entry_not_yet_visible_is_never_resent(exchange, venue, sink):
    exchange.inject(path="/fapi/v1/order", method="POST", status=503, after=True)
    exchange.behaviour.hide_next_orders, exchange.behaviour.hide_for_s = 1, 1.5
    exchange.behaviour.hide_stream = True
    cid = client_order_id("v4", OrderRole.ENTRY)
    venue.submit(intent(cid, qty="0.002"))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"], 8, what="found filled")
    assert exchange.requests.sent_twice() == []
    assert exchange.account.positions["BTCUSDT"].amount == D("0.002")
    assert [f.qty for f in sink.fills] == [D("0.002")]


async def test_5xx_before_apply_still_never_resends_an_entry(exchange, venue, sink):
    venue.settings.unknown_window_s = 8.0  # how long it keeps looking before "not found"
    exchange.inject(path="/fapi/v1/order", method="POST", status=502)  # not applied
    cid = client_order_id("v5", OrderRole.ENTRY)
    venue.submit(intent(cid, qty="0.002"))
    await wait_until(lambda: bool(sink.statuses(cid)) and sink.statuses(cid)[-1] in (
        "FILLED", "REJECTED", "EXPIRED", "CANCELED"), 30, what="a final status")
    assert sink.statuses(cid)[-1] != "FILLED"
    assert [r.client_id for r in exchange.requests.posts()] == [cid]
    assert exchange.account.positions["BTCUSDT"].amount == 0 and not sink.fills
