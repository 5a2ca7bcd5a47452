"""A closed trade as JSON: the one layout the saved result, ``--json``, the API and the
desk's commands write (``trade_json``), and a run's trades in chunks for streaming.

Moved out of backtest.py (a pure move); backtest.py re-exports these names."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from tapedesk.engine.events import RoundTrip
from tapedesk.engine.indented_json import _INF, _float, _float_repr, _quote
from tapedesk.engine.trade_log import TradeLog

DAY_MS = 86_400_000


def _trade_chunks(trades: Sequence[RoundTrip], size: int = 1024) -> Iterator[list[dict]]:
    """The trades as JSON dicts, ``size`` at a time; a TradeLog's from its field texts."""
    time_text = _iso_by_day()
    if not isinstance(trades, TradeLog):
        for start in range(0, len(trades), size):
            yield [trade_json(t, time_text) for t in trades[start:start + size]]
        return
    chunk: list[dict] = []
    for texts, r in zip(trades.texts(), trades.r, strict=True):
        if isinstance(texts, RoundTrip):
            chunk.append(trade_json(texts, time_text))
        else:
            chunk.append(_trade_doc(texts, None if r != r else r, time_text))
        if len(chunk) == size:
            yield chunk
            chunk = []
    yield chunk


#: ``_trade_doc``'s keys, in its order (``_trade_texts`` writes the same layout).
_KEYS = ("symbol", "side", "qty", "entry_time", "exit_time", "entry_ts", "exit_ts",
         "entry_price", "exit_price", "gross_pnl", "fees", "funding", "pnl", "r", "strategy",
         "reason")


def _trade_texts(trades: Sequence[RoundTrip], pad: str, step: str,
                 enc: Callable[[Any, str], str], size: int = 1024) -> Iterator[list[str]]:
    """``_trade_chunks`` as the JSON texts ``indented_json`` writes at ``pad`` (its
    ``Stream.texts``): a TradeLog's lines go through one ``%`` template per trade and the
    C string encoder, not a dict each (the same bytes: tests/engine_units/test_trade_log.py);
    any other sequence, and a trade the log keeps as an object, go through ``enc``."""
    if not isinstance(trades, TradeLog):
        for chunk in _trade_chunks(trades, size):
            yield [enc(doc, pad) for doc in chunk]
        return
    inner = pad + step
    # Decimal and time texts are ASCII digits, signs, points, letters, spaces and colons,
    # which json writes as they are: their quotes are in the template.
    quoted = ("qty", "entry_time", "exit_time", "entry_price", "exit_price", "gross_pnl",
              "fees", "funding", "pnl")
    template = ("{\n" + inner + (",\n" + inner).join(
        _quote(k) + (': "%s"' if k in quoted else ": %s") for k in _KEYS) + "\n" + pad + "}")
    time_text = _iso_by_day()
    chunk: list[str] = []
    # The times as ints from the log's columns (the same values as the texts' f[5], f[6]:
    # int() of a 13-digit text was ~850 instructions); the four money texts tested for an
    # exponent inline (a call each, else); r written as _float does, its test inline.
    for f, r, entry, exit_ in zip(trades.texts(), trades.r, trades.entry_ts, trades.exit_ts,
                                  strict=True):
        if isinstance(f, RoundTrip):
            chunk.append(enc(trade_json(f, time_text), pad))
        else:
            gross, fees, funding, pnl = f[7], f[8], f[9], f[10]
            if "E" in gross or "E" in fees or "E" in funding or "E" in pnl:  # rare
                gross, fees, funding, pnl = map(_plain_text, (gross, fees, funding, pnl))
            chunk.append(template % (
                _quote(f[0]), _quote(f[1]), f[2], time_text(entry), time_text(exit_),
                f[5], f[6], f[3], f[4], gross, fees, funding, pnl,
                _float_repr(r) if -_INF < r < _INF else "null" if r != r else _float(r),
                _quote(f[11]), _quote(f[12])))
        if len(chunk) == size:
            yield chunk
            chunk = []
    yield chunk


def trade_json(t: RoundTrip, time_text: Callable[[int], str] | None = None) -> dict[str, Any]:
    """One trade as JSON; ``time_text`` writes its times (clock.iso, or a faster equal)."""
    if time_text is None:
        from tapedesk.engine.clock import iso as time_text

    return _trade_doc((t.symbol, str(t.side), str(t.qty), str(t.entry_price),
                       str(t.exit_price), t.entry_ts, t.exit_ts, _plain(t.gross_pnl),
                       _plain(t.fees), _plain(t.funding), _plain(t.pnl), t.strategy, t.reason),
                      t.r_multiple, time_text)


def _trade_doc(f: Sequence[Any], r: float | None, time_text: Callable[[int], str]
               ) -> dict[str, Any]:
    """The one layout of a trade in JSON, from its fields in ``RoundTrip`` order as text
    (a TradeLog line: ``str()`` of each; times as int or text)."""
    entry_ts, exit_ts = int(f[5]), int(f[6])
    return {
        "symbol": f[0],
        "side": f[1],
        "qty": f[2],
        "entry_time": time_text(entry_ts),
        "exit_time": time_text(exit_ts),
        "entry_ts": entry_ts,
        "exit_ts": exit_ts,
        "entry_price": f[3],
        "exit_price": f[4],
        "gross_pnl": _plain_text(f[7]),
        "fees": _plain_text(f[8]),
        "funding": _plain_text(f[9]),
        "pnl": _plain_text(f[10]),
        "r": r,
        "strategy": f[11],
        "reason": f[12],
    }


def _plain_text(text: str) -> str:
    """``_plain`` of the Decimal whose ``str()`` is ``text``: str() is already fixed-point
    unless it has an exponent (tests/engine_units/test_trade_log.py)."""
    return text if "E" not in text else format(Decimal(text), "f")


def _iso_by_day() -> Callable[[int], str]:
    """``clock.iso`` for many times: the date is formatted once per UTC day (a datetime per
    time costs ~1.5 us, twice per trade of a saved result), the time of day from integers.
    Same text as ``iso`` (tests/engine_units/test_backtest_time_text.py)."""
    from tapedesk.engine.clock import iso

    times: dict[int, str] = {}  # by second of the day: bars repeat the same few per day
    start = end = 0  # the UTC day [start, end) in ms whose date text is ``date``
    date = ""

    def text(ts: int) -> str:
        # Times come in order, mostly within one day: two comparisons, not a divmod and
        # a dict lookup for the date.
        nonlocal start, end, date
        if not start <= ts < end:
            start = ts - ts % DAY_MS
            end = start + DAY_MS
            date = iso(start)[:-8]  # "YYYY-MM-DD " (iso of a day's start ends "00:00:00")
        sec = (ts - start) // 1000
        clock = times.get(sec)
        if clock is None:
            # %-formatting: the f-string's three format specs cost ~4,000 instructions more
            clock = times[sec] = "%02d:%02d:%02d" % (  # noqa: UP031
                sec // 3600, sec // 60 % 60, sec % 60)
        return date + clock

    return text


def _plain(value: Decimal) -> str:
    """Fixed-point text: str(Decimal) writes a zero with 8 places as "0E-8"."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)
