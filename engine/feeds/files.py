"""Read market data files into engine events: one streaming reader per format, sniffed.

Formats (``detect_format`` names):

- ``binance_csv``: kline CSV as on data.binance.vision, with or without header
  (open_time,open,high,low,close,volume,close_time,...); ms or µs timestamps (spot from 2025).
- ``binance_json``: REST ``/fapi/v1/klines`` array of arrays (also freqtrade's
  ``[[ms, o, h, l, c, v], ...]`` files: the close time is then inferred).
- ``ohlcv_csv``: a headed CSV with a time column (``timestamp``/``date``/``time``/
  ``open_time``; ISO text or epoch s/ms/µs/ns) and open/high/low/close[/volume] — e.g. the
  nautilus 1m file.
- ``ninjabot_csv``: no header, ``time(s), open, close, low, high, volume, trades``.
- ``freqtrade_json``: column-oriented ``{"date": {"0": ms, ...}, "open": {...}, ...}``.
- ``ws_capture``: websocket capture lines ``<local_ns> <json>`` (hftbacktest layout) and plain
  ``.jsonl`` of the same messages (with or without the combined-stream envelope).

Any file may be gzipped (detected by magic bytes, not by name). Bars get ``ts`` = close time
(open + interval - 1 ms, as Binance's close_time); a file without close times has its interval
inferred from the smallest step between its first bars.

Bad input never escapes as a traceback. A file that cannot be read at all (missing, a
directory, binary, truncated or corrupt gzip/zip, unknown layout) raises ``DataError``
(``path:line: what``). A bad *row* — unparsable, a NaN/inf/absurd/non-positive price or size,
high below low, a time before 2009 or in the future, a bar whose open time does not advance,
one timestamp leaping days ahead of both neighbours, a stream message going back more than
``BACK_TOLERANCE_MS`` — is skipped and counted, and ``warn`` receives ONE line at the end of
the file with the count by kind and the first few line numbers. Stream messages keep arrival
order and a timestamp slightly earlier than one already emitted (combined streams interleave
by up to ~100 ms) is raised to it, so events are always time-ordered.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import json
import logging
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tapedesk.engine.events import Bar, Kind, MarketEvent
from tapedesk.engine.feeds.binance_messages import MessageError, Unsupported, parse_message
from tapedesk.engine.feeds.checks import DataError, Skips, bar_problem, max_ts_ms
from tapedesk.engine.feeds.fast_csv import fast_csv_bars

log = logging.getLogger(__name__)

Warn = Callable[[str], None]
DEFAULT_SYMBOL = "BTCUSDT"
FORMATS = ("binance_csv", "binance_json", "ohlcv_csv", "ninjabot_csv", "freqtrade_json",
           "ws_capture")

_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD")
_KNOWN_BASES = frozenset(
    ("BTC", "ETH", "BNB", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "LTC", "TRX",
     "MATIC", "POL", "TON", "SHIB", "BCH", "NEAR", "APT", "ARB", "OP", "SUI", "PEPE", "FIL",
     "ATOM", "ETC", "UNI", "AAVE", "INJ", "WIF")
)
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_TIME_COLUMNS = ("open_time", "timestamp", "date", "time", "datetime", "ts")
#: A stream message may arrive this much earlier (exchange time) than one already read.
BACK_TOLERANCE_MS = 60_000
#: A single timestamp this far ahead of its neighbours is a corrupt one, not a gap.
LEAP_MS = 86_400_000

#: The old name: every data-file error is a ``DataError`` now.
DataFormatError = DataError
_READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, RecursionError)


# -- small helpers -------------------------------------------------------------------------

def open_text(path: str | Path) -> io.TextIOBase:
    """Open a text file, transparently gunzipping (gzip magic) or unzipping (a one-member zip,
    as data.binance.vision ships its CSVs). Undecodable bytes become U+FFFD, so a corrupt
    byte spoils its row (skipped, counted) rather than the file. Raises DataError."""
    with _read_errors(path):
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic[:2] == b"\x1f\x8b":
            return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
        if magic == b"PK\x03\x04":
            archive = zipfile.ZipFile(path)
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                archive.close()
                raise DataError(path, f"a zip must hold exactly one data file, found "
                                      f"{len(members)}")
            raw = archive.open(members[0])
            return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        return open(path, encoding="utf-8-sig", errors="replace", newline="")
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def _read_errors(path: str | Path, lines: _Counted | None = None) -> Iterator[None]:
    """Turn what reading a file can raise (I/O, truncated gzip, corrupt zip) into DataError."""
    try:
        yield
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, not a data file") from None
    except PermissionError:
        raise DataError(path, "permission denied") from None
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        line = lines.n + 1 if lines is not None else None
        raise DataError(path, f"compressed data is truncated or corrupt ({exc})", line) from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply to be market data") from None
    except OSError as exc:
        raise DataError(path, f"cannot read: {exc.strerror or exc}") from None


class _Counted:
    """A text file handle that counts the lines handed out (for 'truncated after line N')."""

    def __init__(self, fh: io.TextIOBase) -> None:
        self.fh = fh
        self.n = 0

    def __iter__(self) -> Iterator[str]:
        for line in self.fh:
            self.n += 1
            yield line

    def read(self, size: int = -1) -> str:
        return self.fh.read(size)


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


def symbol_from_name(path: str | Path) -> str | None:
    """``BTCUSDT-1m-2024-01.csv`` → BTCUSDT; ``btc-perp_1m.csv`` → BTCUSDT; else None."""
    name = Path(path).name.upper()
    for suffix in (".GZ", ".CSV", ".JSON", ".JSONL", ".TXT"):
        name = name.removesuffix(suffix)
    tokens = [t for t in re.split(r"[^A-Z0-9]+", name) if t]
    for t in tokens:
        for q in _QUOTES:
            if t.endswith(q) and len(t) > len(q) and t[: -len(q)].isalpha():
                return t
    for a, b in itertools.pairwise(tokens):
        if b in _QUOTES and a.isalpha():
            return a + b
    for t in tokens:
        if t in _KNOWN_BASES:
            return t + "USDT"
    return None


def interval_from_name(path: str | Path) -> int | None:
    """``..._1m.csv`` → 60000, ``btc-1h.csv`` → 3600000 (a fallback for one-bar files)."""
    m = re.search(r"(?<![a-z0-9])(\d+)([smhdw])(?![a-z0-9])", Path(path).name.lower())
    return int(m.group(1)) * _UNIT_MS[m.group(2)] if m else None


def _default_warn(message: str) -> None:
    log.warning(message)


# -- format detection ----------------------------------------------------------------------

def detect_format(path: str | Path) -> str:
    """Name of the format of ``path`` (one of ``FORMATS``), sniffed from its first line."""
    with open_text(path) as fh, _read_errors(path):
        head = fh.read(4096)
    first = next((ln for ln in head.splitlines() if ln.strip()), "").strip()
    if not first:
        raise DataError(path, "empty file")
    junk = sum(1 for ch in head if ch == "\ufffd" or (ch < " " and ch not in "\t\r\n"))
    if junk > max(2, len(head) // 20):
        raise DataError(path, "binary content, not a text data file (CSV, JSON or a stream "
                              "capture, optionally gzipped)", 1)
    if first.startswith("["):
        return "binance_json"
    if re.match(r'\{\s*"(date|open|high|low|close|volume)"\s*:\s*\{', first):
        return "freqtrade_json"
    if first.startswith("{") or re.match(r"\d+ \{", first):
        return "ws_capture"
    fields = [f.strip().lower() for f in first.split(",")]
    if any(c.isalpha() for c in fields[0]) and not _is_time_text(fields[0]):
        if fields[0] == "open_time" and len(fields) >= 7 and fields[6] == "close_time":
            return "binance_csv"
        if any(c in fields for c in _TIME_COLUMNS) and {"open", "high", "low", "close"} <= set(
            fields
        ):
            return "ohlcv_csv"
        raise DataError(path, f"unknown CSV header {first[:120]!r} (need a time column and "
                              "open, high, low, close)", 1)
    if len(fields) >= 12:
        return "binance_csv"
    if len(fields) == 7:
        return "ninjabot_csv"
    raise DataError(
        path,
        f"cannot tell the format of a {len(fields)}-column headerless CSV "
        "(expected Binance's 12 columns or ninjabot's 7)",
        1,
    )


def _is_time_text(field: str) -> bool:
    return bool(re.match(r"\d{4}-\d{2}-\d{2}", field))


# -- bar readers: each yields (lineno, open_ms, close_ms|None, o, h, l, c, v) --------------

Row = tuple[int, int, int | None, float, float, float, float, float]


def _binance_csv_rows(fh: Iterable[str], where: str, skips: Skips) -> Iterator[Row]:
    for lineno, line in enumerate(fh, 1):
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


def _ninjabot_rows(fh: Iterable[str], where: str, skips: Skips) -> Iterator[Row]:
    for lineno, line in enumerate(fh, 1):
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
    first = 0
    header: list[str] = []
    for first, text in enumerate(lines, 1):  # noqa: B007 (first is the header's line number)
        if text.strip():
            header = [h.strip().lower() for h in text.split(",")]
            break
    tcol = next((header.index(c) for c in _TIME_COLUMNS if c in header), None)
    if tcol is None or not {"open", "high", "low", "close"} <= set(header):
        raise DataError(where, "CSV header needs a time column and open, high, low, close",
                        first or 1)
    io_, ih, il, ic = (header.index(c) for c in ("open", "high", "low", "close"))
    iv = header.index("volume") if "volume" in header else None
    ict = header.index("close_time") if "close_time" in header else None
    need = max(i for i in (tcol, io_, ih, il, ic, iv, ict) if i is not None) + 1
    day_cache: dict[str, int] = {}
    for lineno, line in enumerate(lines, first + 1):
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
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            skips.add(i, f"row {key[:20]!r} unreadable: {exc}")
            continue
        yield row


_ROW_READERS = {
    "binance_csv": _binance_csv_rows,
    "binance_json": _binance_json_rows,
    "ohlcv_csv": _ohlcv_csv_rows,
    "ninjabot_csv": _ninjabot_rows,
    "freqtrade_json": _freqtrade_json_rows,
}


def _sane_rows(rows: Iterator[Row], skips: Skips) -> Iterator[Row]:
    max_ms = max_ts_ms()
    for row in rows:
        bad = bar_problem(*row[1:], max_ms)  # type: ignore[arg-type]
        if bad:
            skips.add(row[0], bad)
            continue
        yield row


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


def _bars(rows: Iterator[Row], symbol: str, interval_hint: int | None, skips: Skips,
          start_ms: int | None, end_ms: int | None) -> Iterator[Bar]:
    rows = _without_leaps(_sane_rows(rows, skips), skips, lambda r: (r[0], r[1]))
    head = list(itertools.islice(rows, 64))
    deltas = [b[1] - a[1] for a, b in itertools.pairwise(head) if b[1] > a[1]]
    interval = min(deltas) if deltas else (interval_hint or 60_000)
    last_open = None
    for lineno, t, ct, o, h, lo, c, v in itertools.chain(head, rows):
        if last_open is not None and t <= last_open:
            skips.add(lineno, f"bar open time {t} does not advance (duplicate or out of order)")
            continue
        last_open = t
        ts = ct if ct is not None else t + interval - 1
        if ts < t:
            skips.add(lineno, f"close time {ts} is before open time {t}")
            continue
        if start_ms is not None and ts < start_ms:
            continue
        if end_ms is not None and ts >= end_ms:
            return
        yield Bar(symbol, t, ts, o, h, lo, c, v)


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


def _capture_events(fh: Iterable[str], symbol: str, skips: Skips,
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


# -- public API ----------------------------------------------------------------------------

def iter_events(
    path: str | Path,
    symbol: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    warn: Warn | None = None,
    fmt: str | None = None,
) -> Iterator[MarketEvent]:
    """Stream the events of ``path`` in time order, keeping ``start_ms <= ts < end_ms``.

    The symbol comes from the data when it names one, else ``symbol``, else the file name,
    else BTCUSDT. Memory stays flat except for the JSON kline formats (one document).
    Raises DataError (possibly mid-stream: a truncated gzip); skipped rows are reported in
    one ``warn`` line once the file has been read to the end (or to ``end_ms``).
    """
    warn = _default_warn if warn is None else warn
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise DataError(path, f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    sym = (symbol or symbol_from_name(path) or DEFAULT_SYMBOL).upper()
    where = str(path)
    skips = Skips(where, warn)
    with open_text(path) as raw:
        fh = _Counted(raw)
        with _read_errors(path, fh):
            if fmt == "ws_capture":
                yield from _capture_events(fh, sym, skips, start_ms, end_ms)
            else:
                rows = _ROW_READERS[fmt](fh, where, skips)
                yield from _bars(rows, sym, interval_from_name(path), skips, start_ms, end_ms)
    skips.report()


def load_bars(
    path: str | Path,
    symbol: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    warn: Warn | None = None,
) -> list[Bar]:
    """All bars of ``path`` as a list (the backtest path); stream captures give closed klines."""
    fmt = detect_format(path)
    if fmt in ("binance_csv", "ohlcv_csv", "ninjabot_csv"):
        sym = (symbol or symbol_from_name(path) or DEFAULT_SYMBOL).upper()
        with open_text(path) as fh, _read_errors(path):
            text = fh.read()
        fast = fast_csv_bars(text, path, fmt, sym, start_ms, end_ms, interval_from_name(path))
        if fast is not None:
            return fast
    events = iter_events(path, symbol, start_ms, end_ms, warn, fmt)
    if fmt != "ws_capture":
        return list(events)  # type: ignore[arg-type]
    return [e for e in events if e.kind is Kind.BAR]  # type: ignore[misc]


def check_readable(path: str | Path) -> str:
    """Fail early, before a desk starts: the file exists, decompresses to the end (a truncated
    gzip raises DataError now, not an hour into a replay) and has a known layout."""
    fmt = detect_format(path)
    with open_text(path) as fh, _read_errors(path):
        while fh.read(1 << 20):
            pass
    return fmt
