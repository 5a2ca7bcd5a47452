"""Bars of a kline file packed once for the many backtests of a search.

A trial streams its window from this file instead of re-parsing the CSV: parsing text is
more than half the cost of a backtest on 1m bars, and a window starts with a binary search
on the fixed-size records instead of reading everything before it. The bars are exactly
those ``iter_events`` yields (it builds the cache), so results do not change. Memory stays
flat: records are read in blocks of 64 Ki.

Layout: a 32-byte header (magic, symbol) then one little-endian record per bar: open time
and close time (int64 ms), open, high, low, close, volume (float64). The name carries the
source's SHA-256, so an edited data file never meets an old cache. Stream captures (quotes,
trades, depth) are not cached: they are streamed from the file as a backtest does.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

from tapedesk.engine.events import Bar

MAGIC = b"TDBARS1\0"
HEADER = 32
REC = struct.Struct("<qqddddd")
BLOCK = 65_536


def cache_file(cache_dir: Path, sha256: str, symbol: str | None) -> Path:
    return cache_dir / f"{sha256[:32]}-{(symbol or 'auto').upper()}.bars"


def build(path: Path, fmt: str, symbol: str | None, dest: Path) -> tuple[int, int, int] | None:
    """Pack every bar of ``path`` into ``dest`` (atomically); (first ts, last ts + 1, bars).
    None when the file holds no bars or more than one symbol (then trials read the file)."""
    from tapedesk.engine.events import Kind
    from tapedesk.engine.feeds.files import iter_events

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    first = last = None
    sym = None
    n = 0
    pack = REC.pack
    try:
        with tmp.open("wb") as fh:
            fh.write(bytes(HEADER))
            buf = bytearray()
            for b in iter_events(path, symbol, None, None, lambda _w: None, fmt):
                if b.kind is not Kind.BAR or (sym is not None and b.symbol != sym):
                    return None
                sym = b.symbol
                buf += pack(b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume)
                first = b.ts if first is None else first
                last = b.ts
                n += 1
                if len(buf) >= REC.size * BLOCK:
                    fh.write(buf)
                    buf.clear()
            fh.write(buf)
            if sym is None or first is None or last is None:
                return None
            fh.seek(0)
            fh.write(MAGIC + sym.encode()[:24].ljust(24, b"\0"))
        os.replace(tmp, dest)
        return first, last + 1, n
    finally:
        tmp.unlink(missing_ok=True)


def span(dest: Path, start: int | None = None, end: int | None = None) -> tuple[int, int, int]:
    """(first ts, last ts + 1, bars) of the cached bars in ``[start, end)``."""
    with dest.open("rb") as fh:
        n = (os.fstat(fh.fileno()).st_size - HEADER) // REC.size
        lo = _first_at(fh, n, start) if start is not None else 0
        hi = _first_at(fh, n, end) if end is not None else n
        if hi <= lo:
            raise ValueError(f"{dest}: no bars in the chosen range")
        fh.seek(HEADER + lo * REC.size)
        first = REC.unpack(fh.read(REC.size))[1]
        fh.seek(HEADER + (hi - 1) * REC.size)
        last = REC.unpack(fh.read(REC.size))[1]
    return first, last + 1, hi - lo


def ensure(spec_fmt: str, data: Path, sha256: str, symbol: str | None,
           cache_dir: Path | None) -> Path | None:
    """The cache for this data (built now when missing), or None for stream captures,
    multi-symbol files or no cache dir."""
    if cache_dir is None or spec_fmt == "ws_capture":
        return None
    dest = cache_file(cache_dir, sha256, symbol)
    if dest.exists() or build(data, spec_fmt, symbol, dest) is not None:
        return dest
    return None


def iter_bars(dest: Path, start: int | None = None, end: int | None = None) -> Iterator[Bar]:
    """Bars with ``start <= ts < end`` (close time), as ``iter_events`` keeps them."""
    with dest.open("rb") as fh:
        head = fh.read(HEADER)
        if head[:8] != MAGIC:
            raise ValueError(f"{dest}: not a bar cache")
        symbol = head[8:].rstrip(b"\0").decode()
        n = (os.fstat(fh.fileno()).st_size - HEADER) // REC.size
        lo = _first_at(fh, n, start) if start is not None else 0
        fh.seek(HEADER + lo * REC.size)
        stop = end if end is not None else 1 << 62
        while True:
            block = fh.read(REC.size * BLOCK)
            if not block:
                return
            for rec in REC.iter_unpack(block):
                if rec[1] >= stop:
                    return
                yield Bar(symbol, *rec)


def _first_at(fh: object, n: int, start: int) -> int:
    """Index of the first record whose close time is >= ``start`` (records are in order)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        fh.seek(HEADER + mid * REC.size)  # type: ignore[attr-defined]
        if REC.unpack(fh.read(REC.size))[1] < start:  # type: ignore[attr-defined]
            lo = mid + 1
        else:
            hi = mid
    return lo
