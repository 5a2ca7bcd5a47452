"""One streaming reader per layout: text lines → checked market events.

Bar layouts yield rows ``(lineno, open_ms, close_ms|None, o, h, l, c, v)`` that ``bars`` checks,
de-spikes and orders (``bar_stream.BarStream``; the CSV layouts are usually read a block at a
time, ``csv_stream._csv_blocks``, and come here only for irregular blocks); stream captures go through
``binance_messages.parse_message`` (which checks values) and ``capture_events`` (time order).
Every rejected row goes to ``Skips``; only a file-level problem raises ``DataError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from tapedesk.engine.events import Bar, MarketEvent
from tapedesk.engine.feeds.bar_stream import LEAP_MS, BarStream, Row
from tapedesk.engine.feeds.binance_messages import MessageError, Unsupported, parse_message
from tapedesk.engine.feeds.checks import DataError, Skips

TIME_COLUMNS = ("open_time", "timestamp", "date", "time", "datetime", "ts")
#: A stream message may arrive this much earlier (exchange time) than one already read.
BACK_TOLERANCE_MS = 60_000


def to_ms(value: float | int) -> int:
    """Epoch seconds / ms / µs / ns → ms, by magnitude (Binance spot switched to µs in 2025).
    Raises ValueError for a non-finite number."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"time {value!r} is not a number")
    v = abs(value)
    if v < 100_000_000_000:  # seconds until year 5138
        return int(value * 1000)
    if v < 100_000_000_000_000:
        return int(value)
    if v < 100_000_000_000_000_000:
        return int(value) // 1000
    return int(value) // 1_000_000


_EPOCH = datetime(1970, 1, 1)


def parse_time_ms(text: str) -> int:
    """An epoch number (any unit) or ISO-8601 text (naive = UTC) → epoch ms."""
    text = text.strip()
    if text[:1].isdigit() and text.replace(".", "", 1).isdigit():
        return to_ms(float(text) if "." in text else int(text))
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return (dt - _EPOCH) // _MS


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000) - _EPOCH



# -- bar readers: each yields (lineno, open_ms, close_ms|None, o, h, l, c, v) --------------


def _binance_csv_rows(fh: Iterable[str], where: str, skips: Skips, first: int = 1,
                      ) -> Iterator[Row]:
    for lineno, line in enumerate(fh, first):
        f = line.split(",")
        if len(f) < 7:
            if line.strip():
                skips.add(lineno, f"{len(f)} columns, expected 12")
            continue
        try:
            t = int(f[0])
        except ValueError:
            if lineno == 1 and f[0].strip() == "open_time":
                continue  # header
            skips.add(lineno, f"open_time {f[0][:30]!r} is not a number")
            continue
        try:
            ct = int(f[6])
            row = (lineno, to_ms(t), to_ms(ct), float(f[1]), float(f[2]), float(f[3]),
                   float(f[4]), float(f[5]))
        except (ValueError, OverflowError) as exc:
            skips.add(lineno, f"{exc}")
            continue
        yield row


def _ninjabot_rows(fh: Iterable[str], where: str, skips: Skips, first: int = 1,
                   ) -> Iterator[Row]:
    for lineno, line in enumerate(fh, first):
        f = line.split(",")
        if len(f) < 6:
            if line.strip():
                skips.add(lineno, f"{len(f)} columns, expected 7")
            continue
        try:
            # ninjabot's own order: time, open, close, low, high, volume, trades
            row = (lineno, to_ms(int(f[0])), None, float(f[1]), float(f[4]), float(f[3]),
                   float(f[2]), float(f[5]))
        except (ValueError, OverflowError) as exc:
            skips.add(lineno, f"{exc}")
            continue
        yield row


def _ohlcv_csv_rows(fh: Iterable[str], where: str, skips: Skips) -> Iterator[Row]:
    lines = iter(fh)
    spec = ohlcv_header(lines, where)
    yield from ohlcv_rows(lines, spec, skips, spec.line + 1)


class OhlcvHeader(NamedTuple):
    """Where the columns of a headed OHLCV CSV are (indexes into ``line.split(",")``)."""

    line: int  # the header's line number
    names: list[str]
    tcol: int
    io: int
    ih: int
    il: int
    ic: int
    iv: int | None
    ict: int | None
    need: int  # fewer fields than this: the row is skipped


def ohlcv_header(lines: Iterator[str], where: str) -> OhlcvHeader:
    """Read up to the first non-blank line of ``lines`` and find the columns it names."""
    first = 0
    header: list[str] = []
    for first, text in enumerate(lines, 1):  # noqa: B007 (first is the header's line number)
        if text.strip():
            header = [h.strip().lower() for h in text.split(",")]
            break
    tcol = next((header.index(c) for c in TIME_COLUMNS if c in header), None)
    if tcol is None or not {"open", "high", "low", "close"} <= set(header):
        raise DataError(where, "CSV header needs a time column and open, high, low, close",
                        first or 1)
    io_, ih, il, ic = (header.index(c) for c in ("open", "high", "low", "close"))
    iv = header.index("volume") if "volume" in header else None
    ict = header.index("close_time") if "close_time" in header else None
    need = max(i for i in (tcol, io_, ih, il, ic, iv, ict) if i is not None) + 1
    return OhlcvHeader(first, header, tcol, io_, ih, il, ic, iv, ict, need)


def ohlcv_rows(lines: Iterable[str], spec: OhlcvHeader, skips: Skips, first: int,
               ) -> Iterator[Row]:
    """The rows after the header; ``first`` is the line number of the first of ``lines``."""
    header, tcol, io_, ih, il, ic, iv, ict, need = (
        spec.names, spec.tcol, spec.io, spec.ih, spec.il, spec.ic, spec.iv, spec.ict, spec.need)
    day_cache: dict[str, int] = {}
    for lineno, line in enumerate(lines, first):
        f = line.split(",")
        if len(f) < need:
            if line.strip():
                skips.add(lineno, f"{len(f)} columns, expected {len(header)}")
            continue
        try:
            ts_text = f[tcol]
            # Fast path for 'YYYY-MM-DD HH:MM:SS[.ffffff]' (naive UTC): one date parse per day.
            if len(ts_text) >= 19 and ts_text[10] in " T" and len(ts_text) in (19, 23, 26):
                day = ts_text[:10]
                base = day_cache.get(day)
                if base is None:
                    base = day_cache[day] = parse_time_ms(day + " 00:00:00")
                t = base + (int(ts_text[11:13]) * 3600 + int(ts_text[14:16]) * 60
                            + int(ts_text[17:19])) * 1000
                if len(ts_text) > 20:
                    t += int(ts_text[20:23])
            else:
                t = parse_time_ms(ts_text)
            row = (lineno, t, parse_time_ms(f[ict]) if ict is not None else None,
                   float(f[io_]), float(f[ih]), float(f[il]), float(f[ic]),
                   float(f[iv]) if iv is not None else 0.0)
        except (ValueError, OverflowError) as exc:
            skips.add(lineno, f"{exc}")
            continue
        yield row


def _binance_json_rows(fh: Any, where: str, skips: Skips) -> Iterator[Row]:
    try:
        data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(where, f"not valid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(data, list):
        raise DataError(where, "expected a JSON array of klines")
    for i, k in enumerate(data, 1):
        try:
            row = (i, to_ms(int(k[0])), to_ms(int(k[6])) if len(k) > 6 else None,
                   float(k[1]), float(k[2]), float(k[3]), float(k[4]), float(k[5]))
        except (TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
            skips.add(i, f"kline #{i} unreadable: {exc}")
            continue
        yield row


def _freqtrade_json_rows(fh: Any, where: str, skips: Skips) -> Iterator[Row]:
    try:
        data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(where, f"not valid JSON: {exc.msg}", exc.lineno) from None
    names = ("date", "open", "high", "low", "close")
    if not isinstance(data, dict) or not all(isinstance(data.get(c), dict) for c in names):
        raise DataError(where, "not a freqtrade column JSON: needs objects "
                               + ", ".join(repr(c) for c in names))
    cols = [data[c] for c in names]
    vol = data.get("volume")
    vol = vol if isinstance(vol, dict) else {}
    for i, key in enumerate(cols[0], 1):
        try:
            row = (i, to_ms(int(cols[0][key])), None, float(cols[1][key]), float(cols[2][key]),
                   float(cols[3][key]), float(cols[4][key]), float(vol.get(key) or 0.0))
        except KeyError:
            skips.add(i, f"row {key[:20]!r} is missing from one of open/high/low/close")
            continue
        except (TypeError, ValueError, OverflowError) as exc:
            skips.add(i, f"row {key[:20]!r} unreadable: {exc}")
            continue
        yield row


ROW_READERS = {
    "binance_csv": _binance_csv_rows,
    "binance_json": _binance_json_rows,
    "ohlcv_csv": _ohlcv_csv_rows,
    "ninjabot_csv": _ninjabot_rows,
    "freqtrade_json": _freqtrade_json_rows,
}


def _without_leaps(items: Iterator[Any], skips: Skips, key: Callable[[Any], tuple[int, int]],
                   ) -> Iterator[Any]:
    """Drop an item whose time leaps more than ``LEAP_MS`` ahead of the previous one when the
    next one comes back below it: one corrupt timestamp is one skipped row, not a file of
    "does not advance" skips after it."""
    prev_t: int | None = None
    held: Any = None
    for item in items:
        _line, t = key(item)
        if held is not None:
            held_line, held_t = key(held)
            if t < held_t:
                skips.add(held_line, f"time {held_t} leaps ahead of its neighbours")
            else:
                prev_t = held_t
                yield held
            held = None
        if prev_t is not None and t - prev_t > LEAP_MS:
            held = item
            continue
        prev_t = t
        yield item
    if held is not None:
        yield held


def bars(rows: Iterable[Row], symbol: str, interval_hint: int | None, skips: Skips,
         start_ms: int | None, end_ms: int | None) -> Iterator[Bar]:
    """Checked, ordered bars of ``rows`` (``bar_stream.BarStream``, one row at a time)."""
    stream = BarStream(symbol, interval_hint, skips, start_ms, end_ms)
    out = stream.out
    for row in rows:
        stream.push(row)
        if out:
            yield from out
            out.clear()
        if stream.done:
            return
    stream.finish()
    yield from out


def _capture_lines(fh: Iterable[str], symbol: str, skips: Skips,
                   ) -> Iterator[tuple[int, MarketEvent]]:
    """(line number, event) for each usable message, in arrival order, times unadjusted."""
    last_ts = 0
    last_symbol = None
    loads = json.loads
    for lineno, line in enumerate(fh, 1):
        local_ms = 0
        if line[:1].isdigit():
            stamp, _, line = line.partition(" ")
            try:
                local_ms = to_ms(int(stamp))
            except ValueError:
                skips.add(lineno, f"receive time {stamp[:30]!r} is not a number")
                continue
        if not line.strip():
            continue
        try:
            ev = parse_message(loads(line), last_symbol or symbol, last_ts or local_ms)
        except json.JSONDecodeError as exc:
            skips.add(lineno, f"not JSON ({exc.msg})")
            continue
        except RecursionError:
            skips.add(lineno, "JSON nested too deeply")
            continue
        except MessageError as exc:
            skips.add(lineno, str(exc))
            continue
        except Unsupported as exc:
            skips.add(lineno, f"unsupported event type {str(exc)!r}", "unsupported")
            continue
        if ev is None:
            continue
        last_symbol = ev.symbol
        last_ts = max(last_ts, ev.ts)
        yield lineno, ev


def capture_events(fh: Iterable[str], symbol: str, skips: Skips,
                    start_ms: int | None, end_ms: int | None) -> Iterator[MarketEvent]:
    last_ts = 0
    lines = _without_leaps(_capture_lines(fh, symbol, skips), skips, lambda p: (p[0], p[1].ts))
    for lineno, ev in lines:
        if ev.ts < last_ts:
            if ev.ts < last_ts - BACK_TOLERANCE_MS:
                skips.add(lineno, f"time {ev.ts} goes back {(last_ts - ev.ts) // 1000} s")
                continue
            ev.ts = last_ts  # arrival order is causal; keep time monotonic
        else:
            last_ts = ev.ts
        if start_ms is not None and ev.ts < start_ms:
            continue
        if end_ms is not None and ev.ts >= end_ms:
            return
        yield ev
