"""A block of CSV kline lines → columns, with C-level ``map``s: the streaming reader's fast path.

Each parser returns ``(open_ms, close_ms | None, open, high, low, close, volume)`` lists, or
None as soon as anything is irregular (ragged or blank lines, a field that does not parse,
times of mixed units or unusual text) — the caller then hands the block's lines to the row
reader of ``readers``, which names the line and counts the skip. A parser never decides a
row is bad: it only ever computes what the row reader computes for the same field text
(same ``int``/``float`` calls, same time arithmetic), so a clean block gives the very same
values either way.

Why columns: on this project's machine the row readers spent ~2 µs per line in per-row
generator frames, ``str.split`` and per-field calls; ``",".join(lines).split(",")`` and one
``map(float, column)`` per column cost a fraction of that (bench/performance_table.py).
"""

from __future__ import annotations

import operator
from itertools import repeat

from tapedesk.engine.feeds.readers import OhlcvHeader, parse_time_ms

Columns = tuple[list[int], list[int] | None, list[float], list[float], list[float],
                list[float], list[float]]

_count = str.count
_DAY = operator.itemgetter(slice(0, 10))
_TOD = operator.itemgetter(slice(11, 19))
_MILLI = operator.itemgetter(slice(20, 23))
_SEP = operator.itemgetter(10)


def _fields(lines: list[str], least: int) -> tuple[list[str], int] | None:
    """Every line's ``split(",")`` end to end, and the field count (the same on every line)."""
    commas = set(map(_count, lines, repeat(",")))
    if len(commas) != 1:
        return None
    n = commas.pop() + 1
    if n < least:
        return None
    return ",".join(lines).split(","), n


def _ms(values: list[int]) -> list[int] | None:
    """``readers.to_ms`` of each non-negative int, when all are of one unit (else None)."""
    lo, hi = min(values), max(values)
    if lo < 0:
        return None
    unit = _unit(lo)
    if unit != _unit(hi):
        return None
    if unit == 0:
        return values
    if unit == -1:
        return list(map(operator.mul, values, repeat(1000)))
    return list(map(operator.floordiv, values, repeat(unit)))


def _unit(v: int) -> int:
    """-1: seconds (×1000); 0: ms; else the divisor (µs, ns) — ``to_ms``'s magnitudes."""
    if v < 100_000_000_000:
        return -1
    if v < 100_000_000_000_000:
        return 0
    if v < 100_000_000_000_000_000:
        return 1000
    return 1_000_000


def binance_columns(lines: list[str], spec: object = None) -> Columns | None:
    """``open_time,open,high,low,close,volume,close_time,...`` (no header in the block)."""
    split = _fields(lines, 7)
    if split is None:
        return None
    flat, n = split
    try:
        ot = _ms(list(map(int, flat[0::n])))
        ct = _ms(list(map(int, flat[6::n])))
        o, h, lo, c, v = (list(map(float, flat[i::n])) for i in (1, 2, 3, 4, 5))
    except ValueError:
        return None
    if ot is None or ct is None:
        return None
    return ot, ct, o, h, lo, c, v


def ninjabot_columns(lines: list[str], spec: object = None) -> Columns | None:
    """``time(s),open,close,low,high,volume,trades``."""
    split = _fields(lines, 6)
    if split is None:
        return None
    flat, n = split
    try:
        ot = _ms(list(map(int, flat[0::n])))
        o, c, lo, h, v = (list(map(float, flat[i::n])) for i in (1, 2, 3, 4, 5))
    except ValueError:
        return None
    if ot is None:
        return None
    return ot, None, o, h, lo, c, v


class OhlcvColumns:
    """Headed OHLCV CSV blocks; keeps the per-day and per-time-of-day caches between blocks."""

    def __init__(self) -> None:
        self.days: dict[str, int] = {}
        self.tods: dict[str, int] = {}

    def __call__(self, lines: list[str], spec: OhlcvHeader) -> Columns | None:
        split = _fields(lines, spec.need)
        if split is None:
            return None
        flat, n = split
        try:
            ot = self._times(flat[spec.tcol::n])
            ct = _epoch(flat[spec.ict::n]) if spec.ict is not None else None
            o, h, lo, c = (list(map(float, flat[i::n]))
                           for i in (spec.io, spec.ih, spec.il, spec.ic))
            v = list(map(float, flat[spec.iv::n])) if spec.iv is not None else [0.0] * len(o)
        except (ValueError, OverflowError, KeyError):
            return None
        if ot is None or (spec.ict is not None and ct is None):
            return None
        return ot, ct, o, h, lo, c, v

    def _times(self, times: list[str]) -> list[int] | None:
        """What ``readers.ohlcv_rows`` computes for each time text, or None."""
        lengths = set(map(len, times))
        if len(lengths) != 1:
            return None
        length = lengths.pop()
        if length not in (19, 23, 26) or not set(map(_SEP, times)) <= {" ", "T"}:
            return _epoch(times)
        days, tods = self.days, self.tods
        day_keys = list(map(_DAY, times))
        for day in set(day_keys).difference(days):
            days[day] = parse_time_ms(day + " 00:00:00")
        tod_keys = list(map(_TOD, times))
        for k in set(tod_keys).difference(tods):  # the row reader's own arithmetic
            tods[k] = (int(k[0:2]) * 3600 + int(k[3:5]) * 60 + int(k[6:8])) * 1000
        add = operator.add
        ms = list(map(add, map(days.__getitem__, day_keys), map(tods.__getitem__, tod_keys)))
        if length > 20:
            ms = list(map(add, ms, map(int, map(_MILLI, times))))
        return ms


def _epoch(texts: list[str]) -> list[int] | None:
    """Epoch integers of any unit, as ``readers.parse_time_ms`` reads all-digit text."""
    if not all(map(str.isdigit, texts)):
        return None
    return _ms(list(map(int, texts)))
