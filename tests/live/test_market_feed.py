"""The public market streams: parsing, combined streams, reconnects, staleness, ping/pong."""

from __future__ import annotations

import random

from tapedesk.engine.binance.market_feed import BinanceMarketFeed, parse_market_message
from tapedesk.engine.binance.streams import StreamSupervisor
from tapedesk.engine.events import Bar, MarkPrice, Quote, Trade
from tapedesk.engine.snapshot import FeedStatus

from tests.live.conftest import wait_until


def make_feed(client, endpoints, events, statuses, **kw):
    kw.setdefault("stale_after", 0.6)
    kw.setdefault("restart_after", 5.0)
    kw.setdefault("backoff_base", 0.05)
    kw.setdefault("backoff_max", 0.2)
    return BinanceMarketFeed(client, endpoints, ["BTCUSDT"], events.append,
                             lambda st, text: statuses.append(st), **kw)


async def test_combined_streams_deliver_quotes_trades_marks_and_closed_bars(
        exchange, endpoints, client):
    events, statuses = [], []
    feed = make_feed(client, endpoints, events, statuses)
    await feed.start()
    try:
        await wait_until(lambda: len(exchange.socks) == 2, what="both sockets connected")
        await exchange.set_price("BTCUSDT", "60010.5")
        await exchange.close_bar("BTCUSDT")
        await wait_until(lambda: any(isinstance(e, Bar) for e in events), what="a closed bar")
        kinds = {type(e) for e in events}
        assert {Quote, Trade, MarkPrice, Bar} <= kinds
        quote = next(e for e in events if isinstance(e, Quote))
        assert (quote.bid, quote.ask) == (60010.5, 60010.6)
        bars = [e for e in events if isinstance(e, Bar)]
        assert len(bars) == 1  # the unclosed kline update was not passed on
        assert feed.status is FeedStatus.LIVE
    finally:
        await feed.stop()


async def test_reconnects_after_a_dropped_connection_and_data_resumes(exchange, endpoints, client):
    events, statuses = [], []
    feed = make_feed(client, endpoints, events, statuses)
    await feed.start()
    try:
        await wait_until(lambda: len(exchange.socks) == 2)
        await exchange.drop_sockets()
        await wait_until(lambda: FeedStatus.RECONNECTING in statuses, what="reconnecting")
        await wait_until(lambda: len(exchange.socks) == 2, what="reconnected")
        events.clear()
        await exchange.set_price("BTCUSDT", "60100")
        await wait_until(lambda: any(isinstance(e, Trade) and e.price == 60100 for e in events))
        assert all(s.connects >= 2 for s in feed.supervisors)
    finally:
        await feed.stop()


async def test_silent_stream_turns_stale_then_reconnects(exchange, endpoints, client):
    events, statuses = [], []
    feed = make_feed(client, endpoints, events, statuses, stale_after=0.3, restart_after=0.8)
    await feed.start()
    try:
        await wait_until(lambda: len(exchange.socks) == 2)
        exchange.market_stalled = True  # sockets stay open, nothing is sent
        await wait_until(lambda: feed.status is FeedStatus.STALE, what="STALE")
        await wait_until(lambda: any("no message" in r for s in feed.supervisors
                                     for r in s.restarts), what="restart after silence")
        exchange.market_stalled = False
        await wait_until(lambda: len(exchange.socks) == 2)
        await exchange.set_price("BTCUSDT", "60001")
        await wait_until(lambda: feed.status is FeedStatus.LIVE, what="LIVE again")
    finally:
        await feed.stop()


async def test_failed_connects_back_off_with_jitter(exchange, endpoints, client):
    exchange.rejected_ws_connects = 6
    events, statuses = [], []
    feed = make_feed(client, endpoints, events, statuses)
    await feed.start()
    try:
        await wait_until(lambda: len(exchange.socks) == 2, timeout=10, what="eventual connect")
        assert sum(len(s.restarts) for s in feed.supervisors) >= 6
    finally:
        await feed.stop()


def test_backoff_grows_exponentially_is_capped_and_jittered():
    sup = StreamSupervisor("x", lambda: None, lambda m: None, backoff_base=0.5, backoff_max=30,
                           rng=random.Random(7))
    waits = [sup.backoff(a) for a in range(10)]
    assert all(0.25 <= w < 45 for w in waits)
    assert waits[0] < 0.75 and waits[6] >= 15  # 0.5·2^6 = 32 → capped at 30, ×[0.5, 1.5)
    assert len({round(w, 6) for w in waits}) == len(waits)  # jitter: no two alike


async def test_answers_server_pings_so_binance_keeps_the_connection(endpoints, client):
    from tests.local_exchange import LocalExchange

    ex = LocalExchange(ws_heartbeat=0.2)  # server pings every 0.2 s, drops if no pong
    await ex.start()
    try:
        from tapedesk.engine.binance.endpoints import resolve

        ep = resolve(rest_url=ex.rest_url, ws_url=ex.ws_url)
        events, statuses = [], []
        feed = make_feed(client, ep, events, statuses)
        await feed.start()
        await wait_until(lambda: len(ex.socks) == 2)
        import asyncio

        await asyncio.sleep(1.0)  # five server pings later
        assert all(s.connects == 1 for s in feed.supervisors), "connection was dropped"
        await feed.stop()
    finally:
        await ex.stop()


async def test_planned_reconnect_before_the_24h_limit(exchange, endpoints, client):
    events, statuses = [], []
    feed = make_feed(client, endpoints, events, statuses, max_age=0.5)
    await feed.start()
    try:
        await wait_until(lambda: all(s.connects >= 2 for s in feed.supervisors), timeout=6)
        assert any("24 h" in r for s in feed.supervisors for r in s.restarts)
    finally:
        await feed.stop()


def test_parse_ignores_unclosed_klines_and_unknown_events():
    assert parse_market_message({"data": {"e": "kline", "s": "BTCUSDT", "k": {"x": False}}}) is None
    assert parse_market_message({"data": {"e": "depthUpdate"}}) is None


async def test_library_queue_overflow_is_handled_by_reconnecting(exchange, endpoints, client):
    """A burst larger than python-binance's queue makes the library give up reading; the
    supervisor sees its error message, reconnects, and data flows again."""
    events, statuses = [], []
    feed = make_feed(client, endpoints, events, statuses, max_queue_size=3)
    await feed.start()
    try:
        await wait_until(lambda: len(exchange.socks) == 2)
        for i in range(60):  # 5 messages per price move, all buffered at once
            await exchange.set_price("BTCUSDT", str(60000 + i))
        await wait_until(lambda: any("Overflow" in r for s in feed.supervisors
                                     for r in s.restarts), what="overflow seen")
        await wait_until(lambda: len(exchange.socks) == 2, what="reconnected")
        events.clear()
        await exchange.set_price("BTCUSDT", "61000")
        await wait_until(lambda: any(isinstance(e, Trade) and e.price == 61000 for e in events))
    finally:
        await feed.stop()
