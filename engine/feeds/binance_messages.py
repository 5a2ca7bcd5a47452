"""Binance USDT-M websocket messages → engine market events (the exchange format stops here).

Used by the capture/jsonl reader and usable by a live feed. One function per message kind;
``parse_message`` dispatches on the event type ``e`` (or the stream name when a spot stream
omits it). Prices and quantities arrive as strings and become floats: market data is not money
at the exchange edge (orders and fills are, and stay Decimal).
"""

from __future__ import annotations

from typing import Any

from tapedesk.engine.events import Bar, Depth, MarketEvent, MarkPrice, Quote, Trade


class MessageError(ValueError):
    """A message that claims to be market data but cannot be read (the reason says why)."""


class Unsupported(Exception):
    """A well-formed message of a kind the desk does not use (e.g. forceOrder)."""


def _levels(raw: Any) -> list[tuple[float, float]]:
    return [(float(p), float(q)) for p, q in raw]


def parse_message(msg: Any, default_symbol: str, fallback_ts: int) -> MarketEvent | None:
    """One decoded JSON message → event, or None for messages that carry no event yet
    (an open kline, a subscription ack). ``fallback_ts`` is used when the message has no
    exchange timestamp (spot bookTicker). Raises MessageError / Unsupported.
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
                ts = int(msg.get("E") or msg.get("T") or fallback_ts)
                return Depth(default_symbol, ts, _levels(msg["bids"]), _levels(msg["asks"]), True)
            if stream.endswith("@bookTicker") or {"b", "a", "B", "A", "u"} <= msg.keys():
                etype = "bookTicker"
            else:
                raise MessageError("no event type 'e' and not a depth snapshot or bookTicker")
        if etype == "bookTicker":
            ts = int(msg.get("E") or msg.get("T") or fallback_ts)
            return Quote(msg["s"], ts, float(msg["b"]), float(msg["B"]), float(msg["a"]),
                         float(msg["A"]))
        if etype in ("trade", "aggTrade"):
            return Trade(msg["s"], int(msg["E"]), float(msg["p"]), float(msg["q"]), bool(msg["m"]))
        if etype == "depthUpdate":
            return Depth(msg["s"], int(msg["E"]), _levels(msg["b"]), _levels(msg["a"]), False)
        if etype == "markPriceUpdate":
            return MarkPrice(msg["s"], int(msg["E"]), float(msg["p"]), float(msg.get("r") or 0.0),
                             int(msg.get("T") or 0))
        if etype == "kline":
            k = msg["k"]
            if not k["x"]:
                return None  # still forming: only closed bars are events
            return Bar(k.get("s") or msg["s"], int(k["t"]), int(k["T"]), float(k["o"]),
                       float(k["h"]), float(k["l"]), float(k["c"]), float(k["v"]))
    except KeyError as exc:
        raise MessageError(f"{etype} message without field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise MessageError(f"{etype} message with a bad value: {exc}") from None
    raise Unsupported(str(etype))
