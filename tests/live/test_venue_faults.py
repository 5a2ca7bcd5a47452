"""Orders whose outcome is unknown, a user stream that drops or expires, and the live
emergency stop: no fill lost, no order duplicated."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.binance.venue import client_order_id
from tapedesk.engine.events import OrderIntent, OrderRole, OrderType

from tests.live.conftest import wait_until

D = Decimal


def entry(cid, qty="0.002"):
    return OrderIntent(cid, "BTCUSDT", "BUY", OrderType.MARKET, D(qty), OrderRole.ENTRY, 0)


async def test_5xx_after_the_order_was_applied_is_looked_up_not_resent(exchange, venue, sink):
    exchange.inject(path="/fapi/v1/order", method="POST", status=503, after=True)
    cid = client_order_id("u1", OrderRole.ENTRY)
    venue.submit(entry(cid))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"], what="filled")
    assert exchange.count("POST", "/fapi/v1/order") == 1  # never re-sent
    assert exchange.count("GET", "/fapi/v1/order") >= 1  # looked up by client id
    assert exchange.account.positions["BTCUSDT"].amount == D("0.002")
    assert len(sink.fills) == 1
    assert any("looking it up" in e for e in sink.errors)


async def test_timeout_with_unknown_outcome_is_looked_up_not_resent(exchange, venue, sink):
    exchange.inject(path="/fapi/v1/algoOrder", method="POST", delay=3.0, after=True)
    cid = client_order_id("u2", OrderRole.ENTRY)
    venue.submit(entry(cid))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    sl = client_order_id("u2", OrderRole.STOP)
    venue.submit(OrderIntent(sl, "BTCUSDT", "SELL", OrderType.STOP_MARKET, D("0.002"),
                             OrderRole.STOP, 0, stop_price=D("59000"), reduce_only=True))
    await wait_until(lambda: sink.statuses(sl) == ["NEW"], timeout=8, what="stop adopted")
    assert exchange.count("POST", "/fapi/v1/algoOrder") == 1
    assert len(exchange.account.open_algos()) == 1


async def test_entry_that_never_arrived_is_reported_not_found_and_never_resent(
        exchange, venue, sink):
    venue.settings.unknown_window_s = 0.6
    exchange.inject(path="/fapi/v1/order", method="POST", status=502)  # not applied
    cid = client_order_id("u3", OrderRole.ENTRY)
    venue.submit(entry(cid))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["REJECTED"], what="declared missing")
    assert sink.statuses(cid) == ["UNKNOWN", "REJECTED"]
    reason = sink.last(cid).reason
    assert "not found on Binance after" in reason and "not re-sent" in reason, reason
    assert exchange.count("POST", "/fapi/v1/order") == 1
    assert exchange.count("GET", "/fapi/v1/order") >= 2  # kept looking with backoff
    assert not exchange.account.orders and not sink.fills


async def test_entry_invisible_to_lookups_at_first_is_never_sent_twice(exchange, venue, sink):
    """Binance lists a just-accepted order in look-ups only after a delay: -2013 from the
    first look-ups must not lead to a second entry (issue 8: it filled twice)."""
    exchange.rejected_ws_connects = 1000  # no user stream: only look-ups can tell
    await exchange.drop_sockets("private")
    exchange.inject(path="/fapi/v1/order", method="POST", status=503, after=True)
    exchange.inject(path="/fapi/v1/order", method="GET", status=400, code=-2013,
                    msg="Order does not exist.", times=3)
    cid = client_order_id("u5", OrderRole.ENTRY)
    venue.submit(entry(cid))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"], timeout=10, what="filled")
    assert exchange.count("POST", "/fapi/v1/order") == 1
    assert exchange.count("GET", "/fapi/v1/order") >= 4
    assert exchange.account.positions["BTCUSDT"].amount == D("0.002")
    assert [f.qty for f in sink.fills] == [D("0.002")]  # from userTrades, once
    assert sink.statuses(cid)[0] == "UNKNOWN"


async def test_reduce_only_exit_that_never_arrived_is_resent_under_the_same_id(
        exchange, venue, sink):
    cid = client_order_id("u6", OrderRole.ENTRY)
    venue.submit(entry(cid))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    venue.settings.resend_after_s = 0.3
    exchange.inject(path="/fapi/v1/order", method="POST", status=502)  # not applied
    xid = client_order_id("u6", OrderRole.EXIT)
    venue.submit(OrderIntent(xid, "BTCUSDT", "SELL", OrderType.MARKET, D("0.002"),
                             OrderRole.EXIT, 0, reduce_only=True))
    await wait_until(lambda: sink.statuses(xid)[-1:] == ["FILLED"], what="exit filled")
    posts = [p for m, path, p in exchange.requests if (m, path) == ("POST", "/fapi/v1/order")]
    assert [p["newClientOrderId"] for p in posts] == [cid, xid, xid]
    assert exchange.account.positions["BTCUSDT"].amount == 0


async def test_lookup_that_keeps_failing_never_resends(exchange, venue, sink):
    venue.settings.unknown_window_s = 0.5
    exchange.rejected_ws_connects = 1000  # the stream cannot settle it either
    await exchange.drop_sockets("private")
    exchange.inject(path="/fapi/v1/order", method="POST", status=503, after=True)
    exchange.inject(path="/fapi/v1/order", method="GET", status=503, times=10)
    cid = client_order_id("u4", OrderRole.ENTRY)
    venue.submit(entry(cid))
    await wait_until(lambda: any("outcome still unknown" in e for e in sink.errors), timeout=8)
    assert exchange.count("POST", "/fapi/v1/order") == 1


async def test_fill_during_a_user_stream_outage_is_recovered_once(exchange, venue, sink):
    cid = client_order_id("d1", OrderRole.ENTRY)
    venue.submit(OrderIntent(cid, "BTCUSDT", "BUY", OrderType.LIMIT, D("0.002"),
                             OrderRole.ENTRY, 0, price=D("59900")))
    await wait_until(lambda: sink.statuses(cid) == ["NEW"])
    connects = venue.user_stream.connects
    exchange.rejected_ws_connects = 2  # stay away a little while
    await exchange.drop_sockets("private")
    await exchange.set_price("BTCUSDT", "59800")  # the limit fills while nobody listens
    await wait_until(lambda: venue.user_stream.connects > connects, timeout=8, what="reconnect")
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"], what="fill recovered")
    assert len(sink.fills) == 1 and sink.fills[0].price == D("59900")
    await exchange.set_price("BTCUSDT", "59801")
    assert len(sink.fills) == 1


async def test_listen_key_is_kept_alive(exchange, endpoints, client, sink):
    from tapedesk.engine.binance.rest import RestGate
    from tapedesk.engine.binance.venue import BinanceVenue, LiveSettings

    v = BinanceVenue(RestGate(client), endpoints, ["BTCUSDT"], LiveSettings(keepalive_s=0.2))
    v.bind(sink)
    await v.start()
    try:
        await wait_until(lambda: exchange.keepalives >= 2, what="two keepalives")
    finally:
        await v.close()


async def test_expired_listen_key_opens_a_new_stream_and_resyncs(exchange, venue, sink):
    cid = client_order_id("k1", OrderRole.ENTRY)
    venue.submit(OrderIntent(cid, "BTCUSDT", "BUY", OrderType.LIMIT, D("0.002"),
                             OrderRole.ENTRY, 0, price=D("59900")))
    await wait_until(lambda: sink.statuses(cid) == ["NEW"])
    old_keys = set(exchange.listen_keys)
    await exchange.expire_listen_key()
    await wait_until(lambda: any("listenKey expired" in e for e in sink.errors))
    await wait_until(lambda: exchange.listen_keys and set(exchange.listen_keys) != old_keys
                     and any(s.kind == "private" for s in exchange.socks), what="new stream")
    await exchange.set_price("BTCUSDT", "59850")
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"], what="fill on new stream")
    assert len(sink.fills) == 1


async def test_emergency_stop_cancels_everything_closes_and_verifies_flat(exchange, venue, sink):
    cid = client_order_id("x1", OrderRole.ENTRY)
    venue.submit(entry(cid, "0.004"))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    for role, typ, px in ((OrderRole.STOP, OrderType.STOP_MARKET, "59000"),
                          (OrderRole.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET, "61000")):
        venue.submit(OrderIntent(client_order_id("x1", role), "BTCUSDT", "SELL", typ, D("0.004"),
                                 role, 0, stop_price=D(px), reduce_only=True))
    venue.submit(OrderIntent("td-x2-e", "BTCUSDT", "BUY", OrderType.LIMIT, D("0.002"),
                             OrderRole.ENTRY, 0, price=D("59000")))
    await wait_until(lambda: len(exchange.account.open_algos()) == 2
                     and len(exchange.account.open_orders()) == 1)
    exchange.inject(path="/fapi/v3/positionRisk", status=503)  # one hiccup on the way
    steps: list[str] = []
    assert await venue.flatten_all(steps.append) is True
    acct = exchange.account
    assert acct.positions["BTCUSDT"].amount == 0
    assert not acct.open_orders() and not acct.open_algos()
    assert "verified flat" in steps[-1]
    flat = [f for f in sink.fills if f.role is OrderRole.FLATTEN]
    assert flat and flat[0].side == "SELL" and flat[0].qty == D("0.004")
    closes = [p for m, path, p in exchange.requests
              if (m, path) == ("POST", "/fapi/v1/order") and p.get("reduceOnly") == "true"]
    assert len(closes) == 1


async def test_emergency_stop_works_with_the_user_stream_down(exchange, venue, sink):
    cid = client_order_id("x3", OrderRole.ENTRY)
    venue.submit(entry(cid))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    exchange.rejected_ws_connects = 1000
    await exchange.drop_sockets()
    assert await venue.flatten_all() is True
    assert exchange.account.positions["BTCUSDT"].amount == 0
