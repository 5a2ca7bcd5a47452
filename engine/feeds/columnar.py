"""A columnar copy of a bar file's bars: written once while the file is read, read at C speed.

Parsing text is most of a streamed backtest's reading cost (~1 µs a line here even a column
at a time); reading the same bars back from native int64/float64 columns is a few
``array.frombytes`` + ``tolist`` calls per 65,536 bars. So ``iter_events(..., cache_dir=D)``
(the backtest CLI passes ``<data dir>/cache/bars``) writes, beside its first read of a CSV,
one directory per source file::

    D/<sha256 of the source's real path>/
        meta.json      {"version", "source", "size", "mtime_ns", "format", "symbol", "rows"}
        open_ts.i64  ts.i64  open.f64  high.f64  low.f64  close.f64  volume.f64

(native byte order, ``array`` type codes ``q`` and ``d``; ``ts`` is the close time the
reader gave each bar), and later reads of the unchanged file (same size and mtime) stream
the bars from it.

Exactness: only a file read *whole* (no ``start``/``end``), without a single skipped row and
with close times never decreasing, is copied — so the copy holds exactly what the CSV reader
yields, and a ``start``/``end`` cut of it (a bisection of the sorted close times) is exactly
the cut the CSV reader makes. Anything else (a dirty file, a changed file, an unreadable copy,
another version of this format) reads the CSV as before. Floats and ints are stored as the
reader produced them: the same values bit for bit.

Another writer (e.g. a downloader of Binance's archives) can produce the same layout with
``ColumnarWriter`` and read it with ``read_bars``; ``meta.json`` names the source it mirrors.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import shutil
from array import array
from collections.abc import Iterator
from itertools import repeat
from operator import attrgetter
from pathlib import Path

from tapedesk.engine.events import Bar

VERSION = 1
#: (file name, array type code, Bar attribute), in Bar's argument order after the symbol.
COLUMNS = (
    ("open_ts.i64", "q", "open_ts"), ("ts.i64", "q", "ts"), ("open.f64", "d", "open"),
    ("high.f64", "d", "high"), ("low.f64", "d", "low"), ("close.f64", "d", "close"),
    ("volume.f64", "d", "volume"),
)
#: Bars read per column at once: ~3.5 MiB of arrays, ~10 MiB of Bar objects.
BLOCK = 65_536
#: Files smaller than this are read from the text each time (a copy would not pay).
MIN_SOURCE_BYTES = 4 << 20


def cache_path(cache_dir: Path, source: str | Path) -> Path:
    real = os.path.realpath(source)
    return Path(cache_dir) / hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()


def _identity(source: str | Path) -> dict[str, object]:
    st = os.stat(source)
    return {"source": os.path.realpath(source), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def valid_copy(cache_dir: Path, source: str | Path, fmt: str) -> Path | None:
    """The copy's directory if it mirrors ``source`` as it is now, else None."""
    where = cache_path(cache_dir, source)
    try:
        meta = json.loads((where / "meta.json").read_text())
        ident = _identity(source)
    except (OSError, ValueError):
        return None
    if meta.get("version") != VERSION or meta.get("format") != fmt:
        return None
    if any(meta.get(k) != v for k, v in ident.items()):
        return None
    rows = meta.get("rows")
    for name, code, _ in COLUMNS:
        try:
            if (where / name).stat().st_size != rows * array(code).itemsize:
                return None
        except (OSError, TypeError):
            return None
    return where


def read_bars(where: Path, symbol: str, start_ms: int | None = None,
              end_ms: int | None = None) -> Iterator[Bar]:
    """The bars of a copy, ``start_ms <= ts < end_ms``, ``BLOCK`` at a time."""
    rows = json.loads((where / "meta.json").read_text())["rows"]
    files = [open(where / name, "rb") for name, _, _ in COLUMNS]  # noqa: SIM115
    try:
        lo, hi = 0, rows
        if start_ms is not None or end_ms is not None:
            lo, hi = _range(files[1], rows, start_ms, end_ms)
        for f in files:
            f.seek(lo * 8)
        i = lo
        while i < hi:
            k = min(BLOCK, hi - i)
            cols = []
            for f, (_, code, _) in zip(files, COLUMNS, strict=True):
                a = array(code)
                a.frombytes(f.read(k * 8))
                cols.append(a.tolist())
            i += k
            yield from map(Bar, repeat(symbol), *cols)
    finally:
        for f in files:
            f.close()


def _range(ts_file: object, rows: int, start_ms: int | None, end_ms: int | None,
           ) -> tuple[int, int]:
    """Row indexes of the first close time >= start and the first >= end (sorted column)."""
    a = array("q")
    a.frombytes(ts_file.read(rows * 8))  # type: ignore[attr-defined]
    lo = bisect.bisect_left(a, start_ms) if start_ms is not None else 0
    hi = bisect.bisect_left(a, end_ms) if end_ms is not None else rows
    return lo, max(lo, hi)


class ColumnarWriter:
    """Append bars a block at a time; ``commit`` publishes the copy, ``abandon`` drops it.

    Written under ``<dir>.part`` and renamed into place whole, so a reader never sees half a
    copy; a bar whose close time goes back makes the copy unusable (``ok`` turns False).
    """

    def __init__(self, cache_dir: Path, source: str | Path, fmt: str, symbol: str) -> None:
        self.final = cache_path(cache_dir, source)
        self.part = self.final.with_name(self.final.name + f".part{os.getpid()}")
        self.meta = {"version": VERSION, **_identity(source), "format": fmt, "symbol": symbol}
        shutil.rmtree(self.part, ignore_errors=True)
        self.part.mkdir(parents=True)
        self.files = [open(self.part / name, "wb") for name, _, _ in COLUMNS]  # noqa: SIM115
        self.getters = [attrgetter(attr) for _, _, attr in COLUMNS]
        self.rows = 0
        self.last_ts: int | None = None
        self.ok = True

    def add(self, bars: list[Bar]) -> None:
        if not bars or not self.ok:
            return
        ts = list(map(attrgetter("ts"), bars))
        if (self.last_ts is not None and ts[0] < self.last_ts) or not all(
                map(int.__le__, ts, ts[1:])):
            self.ok = False
            return
        self.last_ts = ts[-1]
        try:
            for f, get, (_, code, _) in zip(self.files, self.getters, COLUMNS, strict=True):
                array(code, map(get, bars)).tofile(f)
        except OSError:  # a full disk spoils the copy, never the backtest
            self.ok = False
            return
        self.rows += len(bars)

    def commit(self) -> None:
        """Publish the copy if every bar so far was fine (else drop it)."""
        try:
            for f in self.files:
                f.close()
            if not self.ok or not self.rows:
                raise OSError("nothing to publish")
            (self.part / "meta.json").write_text(json.dumps({**self.meta, "rows": self.rows}))
            shutil.rmtree(self.final, ignore_errors=True)
            os.replace(self.part, self.final)
        except OSError:
            self.abandon()

    def abandon(self) -> None:
        for f in self.files:
            with contextlib.suppress(OSError):
                f.close()
        shutil.rmtree(self.part, ignore_errors=True)
