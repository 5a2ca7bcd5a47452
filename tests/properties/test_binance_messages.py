"""Binance message parsers under hypothesis-made messages: an event that makes sense, a
"not for us" answer, or a named rejection — never a stray exception.

- ``feeds.binance_messages.parse_message`` (captures, jsonl): MessageError/Unsupported only,
  and every event it returns passes the data sanity checks;
- ``binance.market_feed.BinanceMarketFeed._message`` (the live public streams): never raises
  (a malformed message is logged and counted, not a reconnect);
- ``binance.venue.BinanceVenue._on_user_message`` (the user-data stream): strict xfail —
  it raises on malformed messages today (another helper's code; see the reason).
"""

from __future__ import annotations

import collections
import math
import types
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tapedesk.engine.events import Bar, Depth, MarkPrice, Quote, Trade
from tapedesk.engine.feeds.binance_messages import MessageError, Unsupported, parse_message
from tapedesk.engine.feeds.checks import MAX_PRICE, MAX_SIZE, MIN_TS_MS, max_ts_ms

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T0 = 1_704_067_200_000

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(), st.text(max_size=6),
    st.sampled_from(["NaN", "inf", "-1", "0", "1e308", "60000.5", "BTCUSDT", "", "0.001",
                     str(T0), "1e400", "x"]),
)
JSON = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3)
                    | st.dictionaries(st.text(max_size=3), c, max_size=3), max_leaves=6)
KEYS = st.sampled_from(["e", "E", "T", "s", "p", "q", "m", "b", "a", "B", "A", "u", "r", "k",
                        "t", "o", "h", "l", "c", "v", "x", "i", "bids", "asks", "lastUpdateId",
                        "data", "stream", "result", "id"])
KINDS = st.sampled_from(["trade", "aggTrade", "bookTicker", "depthUpdate", "markPriceUpdate",
                         "kline", "forceOrder", None, 5, ["x"]])

VALID: dict[str, dict[str, Any]] = {
    "aggTrade": {"e": "aggTrade", "E": T0, "T": T0, "s": "BTCUSDT", "p": "60000.1", "q": "0.5",
                 "m": True},
    "bookTicker": {"e": "bookTicker", "E": T0, "T": T0, "s": "BTCUSDT", "b": "60000.0",
                   "B": "1", "a": "60000.1", "A": "2", "u": 1},
    "depthUpdate": {"e": "depthUpdate", "E": T0, "s": "BTCUSDT", "b": [["60000", "1"]],
                    "a": [["60001", "0"]]},
    "markPriceUpdate": {"e": "markPriceUpdate", "E": T0, "s": "BTCUSDT", "p": "60000.5",
                        "r": "0.0001", "T": T0 + 1},
    "kline": {"e": "kline", "E": T0, "s": "BTCUSDT", "k": {
        "t": T0 - 60_000, "T": T0 - 1, "s": "BTCUSDT", "o": "1", "h": "3", "l": "0.5", "c": "2",
        "v": "10", "x": True}},
}


@st.composite
def messages(draw: st.DrawFn) -> Any:
    """A valid message with some fields replaced/removed, or a random object."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.one_of(JSON, st.dictionaries(KEYS, JSON, max_size=6)))
    msg = {k: (dict(v) if isinstance(v, dict) else v)
           for k, v in VALID[draw(st.sampled_from(sorted(VALID)))].items()}
    target = msg["k"] if "k" in msg and draw(st.booleans()) else msg
    for key in draw(st.sets(st.sampled_from(sorted(target)), max_size=3)):
        if draw(st.booleans()):
            target[key] = draw(JSON)
        else:
            del target[key]
    if draw(st.booleans()):
        msg["e"] = draw(KINDS)
    if draw(st.booleans()):
        return {"stream": draw(st.sampled_from(["btcusdt@aggTrade", "x@bookTicker", 3])),
                "data": msg}
    return msg


def _sane(ev: Any) -> None:
    assert MIN_TS_MS <= ev.ts <= max_ts_ms()
    assert isinstance(ev.symbol, str) and ev.symbol.isalnum()
    if isinstance(ev, Trade):
        prices, sizes = [ev.price], [ev.qty]
    elif isinstance(ev, Quote):
        prices, sizes = [ev.bid, ev.ask], [ev.bid_qty, ev.ask_qty]
        assert ev.bid <= ev.ask
    elif isinstance(ev, MarkPrice):
        prices, sizes = [ev.mark], []
        assert math.isfinite(ev.funding_rate)
    elif isinstance(ev, Bar):
        prices, sizes = [ev.open, ev.high, ev.low, ev.close], [ev.volume]
        assert ev.open_ts <= ev.ts
    else:
        assert isinstance(ev, Depth)
        prices = [p for p, _ in ev.bids + ev.asks]
        sizes = [q for _, q in ev.bids + ev.asks]
    assert all(0 < p < MAX_PRICE for p in prices) and all(0 <= q < MAX_SIZE for q in sizes)


@SETTINGS
@given(messages())
def test_capture_parser_returns_a_sane_event_or_a_named_rejection(msg: Any) -> None:
    try:
        ev = parse_message(msg, "BTCUSDT", T0)
    except (MessageError, Unsupported) as exc:
        assert "\n" not in str(exc)
        return
    if ev is not None:
        _sane(ev)


def test_capture_parser_accepts_every_valid_kind() -> None:
    for msg in VALID.values():
        _sane(parse_message(msg, "BTCUSDT", T0))


@pytest.mark.parametrize(("field", "value"), [
    ("p", "NaN"), ("p", "inf"), ("p", "-5"), ("p", "1e308"), ("q", "-1"), ("s", ["BTC"]),
    ("s", {"a": 1}), ("E", 4_102_444_800_000), ("E", 10**30), ("E", "soon"), ("E", 1e400),
])
def test_capture_parser_names_hostile_trade_fields(field: str, value: Any) -> None:
    with pytest.raises(MessageError):
        parse_message({**VALID["aggTrade"], field: value}, "BTCUSDT", T0)


@SETTINGS
@given(messages())
def test_live_market_stream_skips_malformed_messages_without_raising(msg: Any) -> None:
    from tapedesk.engine.binance.market_feed import BinanceMarketFeed

    got: list[Any] = []
    feed = types.SimpleNamespace(ignored=collections.Counter(), events_in=0, on_event=got.append)
    msg = msg if isinstance(msg, dict) else {"data": msg}
    BinanceMarketFeed._message(feed, msg)  # type: ignore[arg-type]
    assert len(got) + sum(feed.ignored.values()) == 1


@pytest.mark.parametrize("msg", [
    {"e": "ORDER_TRADE_UPDATE"},  # KeyError 'o'
    {"e": "ACCOUNT_UPDATE"},  # KeyError 'a'
    {"e": "ACCOUNT_UPDATE", "a": {"B": [{"a": "USDT", "wb": "abc"}]}},  # InvalidOperation
    {"e": "ACCOUNT_UPDATE", "a": {"P": [{"s": "BTCUSDT", "pa": None, "ep": "1"}]}},  # TypeError
    {"e": "ALGO_UPDATE", "o": None},  # AttributeError
])
def test_user_stream_skips_malformed_messages(msg: dict[str, Any]) -> None:
    from tapedesk.engine.binance.venue import BinanceVenue

    gate = types.SimpleNamespace(client=None, _server_ms=lambda: T0)
    venue = BinanceVenue(gate, None, ["BTCUSDT"])  # type: ignore[arg-type]
    venue._on_user_message(msg)
