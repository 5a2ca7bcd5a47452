"""BinanceVenue against the local exchange: setup, orders, algo stops, fills, order errors."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.binance.venue import client_order_id, role_from_client_id
from tapedesk.engine.events import OrderIntent, OrderRole, OrderType, Side

from tests.live.conftest import wait_until

D = Decimal


def intent(cid, side="BUY", qty="0.002", type=OrderType.MARKET, role=OrderRole.ENTRY, **kw):
    return OrderIntent(cid, "BTCUSDT", side, type, D(qty), role, 0, **kw)


async def open_long(exchange, venue, sink, token="a1", qty="0.002"):
    cid = client_order_id(token, OrderRole.ENTRY)
    venue.submit(intent(cid, qty=qty))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"], what="entry filled")
    return cid


async def test_start_sets_isolated_margin_and_caps_leverage(exchange, venue):
    pos = exchange.account.positions["BTCUSDT"]
    assert pos.margin_type == "ISOLATED"
    assert pos.leverage == 5 == venue.leverage["BTCUSDT"]
    assert await venue.set_leverage_async("BTCUSDT", 50) == 5  # the cap wins
    assert venue.spec("BTCUSDT").tick_size == D("0.1")  # filters from exchangeInfo


async def test_second_start_accepts_margin_type_already_set(exchange, endpoints, client, sink):
    from tapedesk.engine.binance.rest import RestGate
    from tapedesk.engine.binance.venue import BinanceVenue

    for _ in range(2):  # the second start meets -4046 "No need to change margin type."
        v = BinanceVenue(RestGate(client), endpoints, ["BTCUSDT"])
        v.bind(sink)
        await v.start()
        await v.close()
    assert v.report.margin["BTCUSDT"] == "ISOLATED"


async def test_entry_then_exchange_side_reduce_only_stop_and_take_profit(exchange, venue, sink):
    await open_long(exchange, venue, sink)
    fill = sink.fills[0]
    assert (fill.role, fill.side, fill.qty, fill.price) == (OrderRole.ENTRY, "BUY", D("0.002"),
                                                            D("60000.1"))
    sl = client_order_id("a1", OrderRole.STOP)
    tp = client_order_id("a1", OrderRole.TAKE_PROFIT)
    venue.submit(intent(sl, "SELL", type=OrderType.STOP_MARKET, role=OrderRole.STOP,
                        stop_price=D("59850.04"), reduce_only=True))
    venue.submit(intent(tp, "SELL", type=OrderType.TAKE_PROFIT_MARKET,
                        role=OrderRole.TAKE_PROFIT, stop_price=D("60300"), reduce_only=True))
    await wait_until(lambda: len(exchange.account.open_algos()) == 2, what="both algo orders")
    algos = {a.client_algo_id: a for a in exchange.account.open_algos()}
    assert algos[sl].trigger_price == D("59850.0")  # rounded to the 0.1 tick
    assert algos[sl].reduce_only and algos[tp].reduce_only
    assert exchange.count("POST", "/fapi/v1/order") == 1  # conditionals never hit /order
    await exchange.set_price("BTCUSDT", "59840")
    await wait_until(lambda: any(f.role is OrderRole.STOP for f in sink.fills), what="stop fill")
    stop_fill = next(f for f in sink.fills if f.role is OrderRole.STOP)
    assert (stop_fill.client_id, stop_fill.side, stop_fill.qty) == (sl, "SELL", D("0.002"))
    assert sink.statuses(sl)[-1] == "FILLED"
    assert exchange.account.positions["BTCUSDT"].amount == 0
    open_orders = await venue.fetch_open_orders()
    assert [o.client_id for o in open_orders] == [tp]  # the sibling is the engine's to cancel
    assert open_orders[0].role is OrderRole.TAKE_PROFIT


async def test_quantities_and_prices_are_rounded_and_never_rejected_for_precision(
        exchange, venue, sink):
    cid = client_order_id("r1", OrderRole.ENTRY)
    venue.submit(intent(cid, qty="0.0029999"))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    assert sink.fills[0].qty == D("0.002")  # down to the step, never up
    lim = client_order_id("r2", OrderRole.ENTRY)
    venue.submit(intent(lim, qty="0.002", type=OrderType.LIMIT, price=D("59000.06")))
    await wait_until(lambda: sink.statuses(lim) == ["NEW"])
    assert exchange.account.open_orders()[0].price == D("59000.1")
    assert not any("-1111" in u.reason for u in sink.updates)


async def test_below_min_notional_is_refused_before_sending(exchange, venue, sink):
    from tapedesk.engine.events import Quote

    venue.on_market(Quote("BTCUSDT", 0, 60000.0, 1.0, 60000.1, 1.0))
    cid = client_order_id("m1", OrderRole.ENTRY)
    venue.submit(intent(cid, qty="0.001"))  # 60 USDT < 100 USDT minimum
    await wait_until(lambda: sink.statuses(cid) == ["REJECTED"])
    assert "below the minimum 100" in sink.last(cid).reason
    assert exchange.count("POST", "/fapi/v1/order") == 0


async def test_order_errors_are_explained(exchange, venue, sink):
    venue.specs["BTCUSDT"] = venue.specs["BTCUSDT"].__class__(
        **{**{f: getattr(venue.specs["BTCUSDT"], f) for f in
              venue.specs["BTCUSDT"].__dataclass_fields__}, "min_notional": D(0)})
    cases = {
        "e1": (intent("td-e1-e", qty="0.001"), "-4164", "notional value is below"),
        "e2": (intent("td-e2-e", qty="900"), "-2019", "margin is insufficient"),
        "e3": (intent("td-e3-x", "SELL", reduce_only=True), "-2022", "no position"),
        "e4": (intent("td-e4-s", "SELL", type=OrderType.STOP_MARKET, role=OrderRole.STOP,
                      stop_price=D("60100"), reduce_only=True), "-2021", "trigger immediately"),
    }
    for it, _, _ in cases.values():
        venue.submit(it)
    for it, code, words in cases.values():
        await wait_until(lambda it=it: sink.statuses(it.client_id) == ["REJECTED"], what=code)
        reason = sink.last(it.client_id).reason
        assert code in reason and words in reason, reason


async def test_partial_fill_then_fill(exchange, venue, sink):
    exchange.account.partial_fills = [D("0.4")]
    cid = client_order_id("p1", OrderRole.ENTRY)
    venue.submit(intent(cid, qty="0.005"))
    await wait_until(lambda: "PARTIALLY_FILLED" in sink.statuses(cid))
    assert sink.fills[0].qty == D("0.002")
    await exchange.set_price("BTCUSDT", "60005")
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    assert [f.qty for f in sink.fills] == [D("0.002"), D("0.003")]
    assert [f.seq for f in sink.fills] == [1, 2]
    assert sink.last(cid).filled_qty == D("0.005")


async def test_cancel_regular_and_algo_orders(exchange, venue, sink):
    await open_long(exchange, venue, sink)
    lim = "td-c1-x"
    venue.submit(intent(lim, "SELL", type=OrderType.LIMIT, price=D("61000"), reduce_only=True,
                        role=OrderRole.EXIT))
    sl = "td-c1-s"
    venue.submit(intent(sl, "SELL", type=OrderType.STOP_MARKET, role=OrderRole.STOP,
                        stop_price=D("59000"), reduce_only=True))
    await wait_until(lambda: sink.statuses(lim) == ["NEW"] and sink.statuses(sl) == ["NEW"])
    venue.cancel("BTCUSDT", lim)
    venue.cancel("BTCUSDT", sl)
    await wait_until(lambda: sink.statuses(lim)[-1] == "CANCELED" == sink.statuses(sl)[-1])
    assert not exchange.account.open_orders() and not exchange.account.open_algos()


def test_client_ids_carry_their_role_and_fit_binance_rules():
    cid = client_order_id("lq3k9a7", OrderRole.STOP)
    assert cid == "td-lq3k9a7-s" and role_from_client_id(cid) is OrderRole.STOP
    assert role_from_client_id("web_abc123") is None
    import re

    assert re.fullmatch(r"[\.A-Z\:/a-z0-9_-]{1,36}", cid)


async def test_positions_and_balance_read_back(exchange, venue, sink):
    await open_long(exchange, venue, sink)
    positions = await venue.fetch_positions()
    pos = positions["BTCUSDT"]
    assert (pos.side, pos.qty, pos.entry_price) == (Side.LONG, D("0.002"), D("60000.1"))
    assert pos.liquidation_price > 0
    assert await venue.fetch_balance() < D("10000")  # the taker fee was paid
