"""Binance USDT-M websocket messages → engine market events (the exchange format stops here).

Used by the capture/jsonl reader and usable by a live feed. One function per message kind;
``parse_message`` dispatches on the event type ``e`` (or the stream name when a spot stream
omits it). Prices and quantities arrive as strings and become floats: market data is not money
at the exchange edge (orders and fills are, and stay Decimal).
"""

from __future__ import annotations

from typing import Any

from tapedesk.engine.events import Bar, Depth, MarketEvent, MarkPrice, Quote, Trade
from tapedesk.engine.feeds.checks import (
    MAX_PRICE,
    MAX_SIZE,
    MIN_TS_MS,
    integer,
    max_ts_ms,
    price,
    rate,
    size,
    ts_problem,
)


class MessageError(ValueError):
    """A message that claims to be market data but cannot be read (the reason says why)."""


class Unsupported(Exception):
    """A well-formed message of a kind the desk does not use (e.g. forceOrder)."""


def _levels(raw: Any) -> list[tuple[float, float]]:
    """[[price, qty], ...] → floats; the hot path of depth replays (600 k levels in the
    sample), so one comprehension and one bounds pass, the details only on failure."""
    try:
        out = [(float(p), float(q)) for p, q in raw]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"book levels {str(raw)[:40]!r} are not [[price, qty], ...]") from None
    for p, q in out:
        if not (0 < p < MAX_PRICE and 0 <= q < MAX_SIZE):
            price(p)
            size(q)
    if raw.__class__ is not list:
        raise ValueError(f"book levels {str(raw)[:40]!r} are not a list")
    return out


def _sym(raw: Any) -> str:
    """A symbol is short alphanumeric text (Binance lists a few non-ASCII ones)."""
    if raw.__class__ is not str or not 2 <= len(raw) <= 40 or not raw.isalnum():
        raise ValueError(f"symbol {str(raw)[:40]!r} is not a symbol")
    return raw.upper()


def _ts(raw: Any) -> int:
    ts = integer(raw, "time")
    if not MIN_TS_MS <= ts <= max_ts_ms():
        raise ValueError(ts_problem(ts))
    return ts


def parse_message(msg: Any, default_symbol: str, fallback_ts: int) -> MarketEvent | None:
    """One decoded JSON message → event, or None for messages that carry no event yet
    (an open kline, a subscription ack). ``fallback_ts`` is used when the message has no
    exchange timestamp (spot bookTicker). Raises MessageError / Unsupported; prices, sizes and
    times are checked (``checks``): a NaN, a negative price or a bar dated 2100 is a
    MessageError, never an event.
    """
    if not isinstance(msg, dict):
        raise MessageError("not a JSON object")
    stream = ""
    if "data" in msg and isinstance(msg["data"], dict):
        stream = str(msg.get("stream", ""))
        msg = msg["data"]
    elif "result" in msg and "id" in msg:
        return None  # subscription acknowledgement
    etype = msg.get("e")
    try:
        if etype is None:
            if "lastUpdateId" in msg and "bids" in msg:
                ts = _ts(msg.get("E") or msg.get("T") or fallback_ts)
                return Depth(default_symbol, ts, _levels(msg["bids"]), _levels(msg["asks"]), True)
            if stream.endswith("@bookTicker") or {"b", "a", "B", "A", "u"} <= msg.keys():
                etype = "bookTicker"
            else:
                raise MessageError("no event type 'e' and not a depth snapshot or bookTicker")
        if not isinstance(etype, str):
            raise MessageError(f"event type {str(etype)[:40]!r} is not text")
        if etype == "bookTicker":
            ts = _ts(msg.get("E") or msg.get("T") or fallback_ts)
            bid, ask = price(msg["b"], "bid"), price(msg["a"], "ask")
            if bid > ask:
                raise ValueError(f"bid {bid} is above ask {ask}")
            return Quote(_sym(msg["s"]), ts, bid, size(msg["B"]), ask, size(msg["A"]))
        if etype in ("trade", "aggTrade"):
            return Trade(_sym(msg["s"]), _ts(msg["E"]), price(msg["p"]), size(msg["q"]),
                         bool(msg["m"]))
        if etype == "depthUpdate":
            return Depth(_sym(msg["s"]), _ts(msg["E"]), _levels(msg["b"]), _levels(msg["a"]),
                         False)
        if etype == "markPriceUpdate":
            return MarkPrice(_sym(msg["s"]), _ts(msg["E"]), price(msg["p"], "mark"),
                             rate(msg.get("r") or 0.0), integer(msg.get("T") or 0, "time"))
        if etype == "kline":
            k = msg["k"]
            if not isinstance(k, dict):
                raise MessageError("kline message whose 'k' is not an object")
            if not k["x"]:
                return None  # still forming: only closed bars are events
            o, h, lo, c = (price(k[f], n) for f, n in
                           (("o", "open"), ("h", "high"), ("l", "low"), ("c", "close")))
            if not (lo <= min(o, c) and max(o, c) <= h):
                raise ValueError("open/close outside the bar's low-high range")
            t, close_t = _ts(k["t"]), _ts(k["T"])
            if close_t < t:
                raise ValueError(f"close time {close_t} is before open time {t}")
            return Bar(_sym(k.get("s") or msg["s"]), t, close_t, o, h, lo, c,
                       size(k["v"], "volume"))
    except MessageError:
        raise
    except KeyError as exc:
        raise MessageError(f"{etype} message without field {exc.args[0]!r}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise MessageError(f"{etype} message with a bad value: {exc}") from None
    raise Unsupported(etype[:40])
