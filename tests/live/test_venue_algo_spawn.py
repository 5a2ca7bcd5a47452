"""A triggered stop on the local exchange made to report the way Binance does: the order it
spawns carries its own client id, and its fills arrive before (or without) the ALGO_UPDATE
that names it. The fills must still reach the desk as the stop's."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.binance.venue import client_order_id
from tapedesk.engine.events import OrderIntent, OrderRole, OrderType

from tests.live.conftest import wait_until

D = Decimal


def binance_like_spawn(exchange, drop_algo_updates: bool = False) -> None:
    """Rewrite the local exchange's stream: spawned orders get ``x-<orderId>`` client ids and
    the ALGO_UPDATEs after the trigger come only after the spawned order filled (or never)."""
    acct = exchange.account
    emit, held = acct._emit, []

    def reordered(event):
        o = event.get("o", {})
        if event.get("e") == "ALGO_UPDATE" and o.get("X") in ("TRIGGERED", "FINISHED"):
            if not drop_algo_updates:
                held.append(event)
            return
        if event.get("e") == "ORDER_TRADE_UPDATE" and o.get("ot") == "STOP_MARKET":
            o["c"] = f"x-{o['i']}"
            emit(event)
            if o["X"] == "FILLED":
                for h in held:
                    emit(h)
                held.clear()
            return
        emit(event)

    acct._emit = reordered


async def _long_with_stop(venue, sink, token):
    cid = client_order_id(token, OrderRole.ENTRY)
    venue.submit(OrderIntent(cid, "BTCUSDT", "BUY", OrderType.MARKET, D("0.004"),
                             OrderRole.ENTRY, 0))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    sl = client_order_id(token, OrderRole.STOP)
    venue.submit(OrderIntent(sl, "BTCUSDT", "SELL", OrderType.STOP_MARKET, D("0.004"),
                             OrderRole.STOP, 0, stop_price=D("59900"), reduce_only=True))
    await wait_until(lambda: sink.statuses(sl) == ["NEW"])
    return sl


async def test_stop_fills_arriving_before_triggered_are_the_stops(exchange, venue, sink):
    sl = await _long_with_stop(venue, sink, "s1")
    binance_like_spawn(exchange)
    exchange.account.partial_fills = [D("0.5")]  # the stop's market order: two trades
    await exchange.set_price("BTCUSDT", "59890")
    await exchange.set_price("BTCUSDT", "59880")
    await wait_until(lambda: sink.statuses(sl)[-1:] == ["FILLED"], what="stop filled")
    stop_fills = [f for f in sink.fills if f.role is OrderRole.STOP]
    assert [f.client_id for f in stop_fills] == [sl, sl]
    assert sum(f.qty for f in stop_fills) == D("0.004")
    trades = [t for t in exchange.account.trades if t["side"] == "SELL"]
    assert [f.trade_id for f in stop_fills] == [str(t["id"]) for t in trades]
    assert not any("did not place" in e for e in sink.errors)


async def test_stop_fills_with_no_algo_update_at_all_are_matched_over_rest(
        exchange, venue, sink):
    venue.settings.orphan_wait_s = 0.2
    sl = await _long_with_stop(venue, sink, "s2")
    binance_like_spawn(exchange, drop_algo_updates=True)
    await exchange.set_price("BTCUSDT", "59890")
    await wait_until(lambda: sink.statuses(sl)[-1:] == ["FILLED"], what="stop filled")
    assert [f.role for f in sink.fills if f.client_id == sl] == [OrderRole.STOP]
    assert exchange.count("GET", "/fapi/v1/algoOrder") >= 1
