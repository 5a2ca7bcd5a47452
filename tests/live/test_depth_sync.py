"""The live diff-depth book: Binance's USDT-M rules (snapshot, buffer, U <= lastUpdateId <= u,
then pu == previous u, else a new snapshot), as a state machine and through the real feed
against the local exchange."""

from __future__ import annotations

from tapedesk.engine.binance.depth_sync import DepthSync
from tapedesk.engine.binance.market_feed import BinanceMarketFeed
from tapedesk.engine.events import Depth
from tapedesk.engine.strategies.book_imbalance import _Book

from tests.live.conftest import wait_until


def diff(first: int, final: int, prev: int, bids=(), asks=()) -> dict:
    return {"e": "depthUpdate", "E": 1000 + final, "T": 1000 + final, "s": "BTCUSDT",
            "U": first, "u": final, "pu": prev, "b": [list(b) for b in bids],
            "a": [list(a) for a in asks]}


SNAP = {"lastUpdateId": 105, "E": 999, "T": 999, "bids": [["100.0", "1.0"], ["99.9", "2.0"]],
        "asks": [["100.1", "1.5"]]}


def book(events: list[Depth]) -> _Book:
    b = _Book()
    for ev in events:
        b.apply(ev)
    return b


def test_buffered_events_bridge_the_snapshot_and_older_ones_are_dropped():
    sync = DepthSync("btcusdt")
    assert sync.needs_snapshot
    assert sync.on_diff(diff(90, 100, 89, bids=[("100.0", "9")])) == []  # before snapshot
    assert sync.on_diff(diff(101, 107, 100, bids=[("100.0", "3")])) == []  # bridges 105
    assert sync.on_diff(diff(108, 110, 107, asks=[("100.1", "0")])) == []
    out = sync.on_snapshot(SNAP)
    assert [e.is_snapshot for e in out] == [True, False, False]
    assert sync.synced and not sync.needs_snapshot
    b = book(out)
    assert b.bids == {100.0: 3.0, 99.9: 2.0} and b.asks == {}  # the u=100 diff was dropped
    nxt = sync.on_diff(diff(111, 112, 110, bids=[("99.8", "1")]))
    assert len(nxt) == 1 and not nxt[0].is_snapshot


def test_a_gap_in_pu_empties_the_book_and_asks_for_a_new_snapshot():
    sync = DepthSync("BTCUSDT")
    sync.on_diff(diff(101, 107, 100))
    sync.on_snapshot(SNAP)
    out = sync.on_diff(diff(120, 125, 118, bids=[("100.0", "5")]))  # pu 118 != u 107
    assert len(out) == 1 and out[0].is_snapshot and not out[0].bids and not out[0].asks
    assert sync.needs_snapshot and not sync.synced and sync.resyncs == 1
    assert "pu 118 after u 107" in sync.last_gap
    assert sync.on_diff(diff(126, 130, 125)) == []  # buffered until the next snapshot
    out = sync.on_snapshot({"lastUpdateId": 127, "bids": [["100.0", "4"]], "asks": []})
    assert [e.is_snapshot for e in out] == [True, False]
    assert sync.synced and sync.last_u == 130


def test_a_snapshot_older_than_the_stream_is_not_used():
    sync = DepthSync("BTCUSDT")
    sync.on_diff(diff(200, 210, 199))
    assert sync.on_snapshot(SNAP) == []  # lastUpdateId 105 < U 200: cannot bridge
    assert sync.needs_snapshot and sync.snapshots == 0


def test_first_live_event_after_an_empty_buffer_must_bridge():
    sync = DepthSync("BTCUSDT")
    out = sync.on_snapshot(SNAP)
    assert [e.is_snapshot for e in out] == [True]
    assert sync.on_diff(diff(90, 104, 89)) == []  # entirely before the snapshot: dropped
    assert len(sync.on_diff(diff(104, 106, 104))) == 1  # U 104 <= 105 <= u 106
    assert sync.synced
    sync2 = DepthSync("BTCUSDT")
    sync2.on_snapshot(SNAP)
    out = sync2.on_diff(diff(107, 109, 106))  # skips 106..: a gap right after the snapshot
    assert out[0].is_snapshot and not out[0].bids and sync2.needs_snapshot


async def test_the_feed_subscribes_to_depth_snapshots_and_resyncs_on_a_gap(
        exchange, endpoints, client):
    exchange.depth_snapshots["BTCUSDT"] = SNAP
    events: list = []
    feed = BinanceMarketFeed(client, endpoints, ["BTCUSDT"], events.append, depth=True,
                             backoff_base=0.05, backoff_max=0.2, snapshot_retry_s=0.05)
    await feed.start()
    try:
        await wait_until(lambda: any("btcusdt@depth@100ms" in s.streams for s in exchange.socks),
                         what="the depth stream subscribed")
        await wait_until(lambda: any(isinstance(e, Depth) and e.is_snapshot for e in events),
                         what="the snapshot")
        assert exchange.count("GET", "/fapi/v1/depth") == 1
        await exchange.publish_depth("BTCUSDT", 104, 108, 103, [("100.0", "7")], [])
        await exchange.publish_depth("BTCUSDT", 109, 111, 108, [], [("100.2", "1")])
        await wait_until(lambda: sum(isinstance(e, Depth) for e in events) == 3, what="diffs")
        b = book([e for e in events if isinstance(e, Depth)])
        assert b.bids[100.0] == 7.0 and b.asks[100.2] == 1.0
        exchange.depth_snapshots["BTCUSDT"] = {"lastUpdateId": 131, "bids": [["100.0", "2"]],
                                               "asks": [["100.1", "2"]]}
        await exchange.publish_depth("BTCUSDT", 130, 132, 129, [("99.0", "1")], [])  # gap
        await wait_until(lambda: exchange.count("GET", "/fapi/v1/depth") >= 2, what="resync")
        await wait_until(lambda: feed.depth["BTCUSDT"].synced, what="in step again")
        b = book([e for e in events if isinstance(e, Depth)])
        assert b.bids == {100.0: 2.0, 99.0: 1.0} and b.asks == {100.1: 2.0}
        assert feed.depth["BTCUSDT"].resyncs == 1
    finally:
        await feed.stop()


async def test_without_a_depth_strategy_there_is_no_depth_stream(exchange, endpoints, client):
    feed = BinanceMarketFeed(client, endpoints, ["BTCUSDT"], [].append)
    await feed.start()
    try:
        await wait_until(lambda: len(exchange.socks) == 2)
        assert not any("@depth" in s for sock in exchange.socks for s in sock.streams)
    finally:
        await feed.stop()
