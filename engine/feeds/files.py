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
import logging
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path

from tapedesk.engine.events import Bar, Kind, MarketEvent
from tapedesk.engine.feeds.checks import DataError, Skips
from tapedesk.engine.feeds.readers import (
    ROW_READERS,
    TIME_COLUMNS,
    bars,
    capture_events,
    parse_time_ms,
    to_ms,
)

log = logging.getLogger(__name__)

Warn = Callable[[str], None]
DEFAULT_SYMBOL = "BTCUSDT"
FORMATS = ("binance_csv", "binance_json", "ohlcv_csv", "ninjabot_csv", "freqtrade_json",
           "ws_capture", "market_store")

_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD")
_KNOWN_BASES = frozenset(
    ("BTC", "ETH", "BNB", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "LTC", "TRX",
     "MATIC", "POL", "TON", "SHIB", "BCH", "NEAR", "APT", "ARB", "OP", "SUI", "PEPE", "FIL",
     "ATOM", "ETC", "UNI", "AAVE", "INJ", "WIF")
)
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}

__all__ = [
    "FORMATS", "DataError", "DataFormatError", "Warn", "check_readable", "detect_format",
    "interval_from_name", "iter_events", "load_bars", "open_text", "parse_time_ms",
    "symbol_from_name", "to_ms",
]

#: The old name: every data-file error is a ``DataError`` now.
DataFormatError = DataError


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
    with open_text(path) as fh, _read_errors(path, _Counted(fh)):  # errors: "line 1"
        head = fh.read(4096)
    first = next((ln for ln in head.splitlines() if ln.strip()), "").strip()
    if not first:
        raise DataError(path, "empty file")
    junk = sum(1 for ch in head if ch == "\ufffd" or (ch < " " and ch not in "\t\r\n"))
    if junk > max(2, len(head) // 20):
        raise DataError(path, "binary content, not a text data file (CSV, JSON or a stream "
                              "capture, optionally gzipped)", 1)
    if first.startswith("# tapedesk market-data selection"):
        return "market_store"  # downloaded months: tapedesk.engine.market_data.selection
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
        if any(c in fields for c in TIME_COLUMNS) and {"open", "high", "low", "close"} <= set(
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


# -- public API ----------------------------------------------------------------------------

def iter_events(
    path: str | Path,
    symbol: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    warn: Warn | None = None,
    fmt: str | None = None,
    cache_dir: str | Path | None = None,
) -> Events:
    """Stream the events of ``path`` in time order, keeping ``start_ms <= ts < end_ms``.

    The symbol comes from the data when it names one, else ``symbol``, else the file name,
    else BTCUSDT. Memory stays flat except for the JSON kline formats (one document).
    Raises DataError (possibly mid-stream: a truncated gzip); skipped rows are reported in
    one ``warn`` line once the file has been read to the end (or to ``end_ms``).
    ``cache_dir``: a CSV of bars is read from, or copied to, a binary copy there
    (``bar_copy``: the same bars, read several times faster).

    Nothing happens (not even format detection) until the first event is asked for. The
    result iterates as a C-level ``chain`` of the reader's parts, so a bar of a CSV or of its
    copy passes no Python frame on its way to the caller (``Events``).
    """
    return Events(_parts(path, symbol, start_ms, end_ms, warn, fmt, cache_dir))


class Events:
    """``iter_events``' result. Iterated, one C-level ``chain`` of the reader's parts (no
    Python frame per event); or, taken whole instead, the parts themselves (``parts``), for
    a reader that wants them (``backtest.run_backtest`` makes a binary copy's bars itself:
    ``bar_copy.CopyBars``)."""

    __slots__ = ("_chain", "_parts")

    def __init__(self, parts: Iterator[Iterable[MarketEvent]]) -> None:
        self._parts = parts
        self._chain: Iterator[MarketEvent] | None = None

    def __iter__(self) -> Iterator[MarketEvent]:
        if self._chain is None:
            self._chain = chain.from_iterable(self._parts)
        return self._chain

    def __next__(self) -> MarketEvent:
        return next(self.__iter__())

    def parts(self) -> Iterator[Iterable[MarketEvent]] | None:
        """The parts, in order, instead of the events; None once the events have begun."""
        if self._chain is not None:
            return None
        self._chain = iter(())  # taken: the events are the caller's to read now
        return self._parts


def _parts(path: str | Path, symbol: str | None, start_ms: int | None, end_ms: int | None,
           warn: Warn | None, fmt: str | None, cache_dir: str | Path | None,
           ) -> Iterator[Iterable[MarketEvent]]:
    """``iter_events``' work: the events as one or more iterables, in order."""
    warn = _default_warn if warn is None else warn
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise DataError(path, f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if fmt == "market_store":
        from tapedesk.engine.market_data.selection import selection_events

        yield selection_events(Path(path), start_ms, end_ms, warn)
        return
    sym = (symbol or symbol_from_name(path) or DEFAULT_SYMBOL).upper()
    where = str(path)
    skips = Skips(where, warn)
    if fmt in CSV_BAR_FORMATS:
        yield csv_bars(path, fmt, sym, interval_from_name(path), skips, start_ms, end_ms,
                       cache_dir)  # which reports the skips at its end
        return
    yield _text_events(path, fmt, sym, skips, start_ms, end_ms)


def _text_events(path: str | Path, fmt: str, sym: str, skips: Skips, start_ms: int | None,
                 end_ms: int | None) -> Iterator[MarketEvent]:
    """The formats read row by row (JSON klines, stream captures)."""
    with open_text(path) as raw:
        fh = _Counted(raw)
        with _read_errors(path, fh):
            if fmt == "ws_capture":
                yield from capture_events(fh, sym, skips, start_ms, end_ms)
            else:
                rows = ROW_READERS[fmt](fh, str(path), skips)
                yield from bars(rows, sym, interval_from_name(path), skips, start_ms, end_ms)
    skips.report()


def load_bars(
    path: str | Path,
    symbol: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    warn: Warn | None = None,
) -> list[Bar]:
    """All bars of ``path`` as a list; stream captures give closed klines."""
    fmt = detect_format(path)
    events = iter_events(path, symbol, start_ms, end_ms, warn, fmt)
    if fmt not in ("ws_capture", "market_store"):
        return list(events)  # type: ignore[arg-type]
    return [e for e in events if e.kind is Kind.BAR]  # type: ignore[misc]


def check_readable(path: str | Path) -> str:
    """Fail early, before a desk starts: the file exists, decompresses to the end (a truncated
    gzip raises DataError now, not an hour into a replay) and has a known layout."""
    fmt = detect_format(path)
    _read_all(path, keep=False)
    return fmt


def _read_all(path: str | Path, keep: bool = True) -> str:
    """The whole text of ``path``; a truncated or corrupt file is a DataError naming the
    line where the readable part ends (found by a second, line-by-line pass: errors only)."""
    parts: list[str] = []
    try:
        with open_text(path) as fh, _read_errors(path):
            while chunk := fh.read(1 << 20):
                if keep:
                    parts.append(chunk)
    except DataError as exc:
        if not exc.reason.startswith("compressed data"):
            raise
        lines = _Counted(open_text(path))
        with lines.fh, _read_errors(path, lines):
            for _ in lines:
                pass
        raise  # pragma: no cover - the second pass raises with the line number
    return "".join(parts)


# The CSV block reader uses this module's file helpers: imported once they exist.
from tapedesk.engine.feeds.csv_stream import CSV_BAR_FORMATS, csv_bars  # noqa: E402
