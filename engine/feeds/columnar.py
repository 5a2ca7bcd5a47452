"""The one binary format of bars (and other numeric series) on disk: a file of typed columns.

Used for downloaded market data (``market_data.store``: a month per file, compressed, since
those files are kept) and for the copies of bar files the backtest and the optimizer read
instead of parsing text (``bar_copy``: raw columns, since a copy is rebuilt at will and is
read a block at a time, at an offset, without decompressing what comes before).

Layout::

    MAGIC                              b"TAPEDESK-COLUMNS 2\\n"
    one JSON line                      {"rows": n, "meta": {...}, "columns":
                                        [{"name", "type": "q"|"d", "codec", "bytes"}, ...]}
    each column's bytes, in order      native-endian int64 ("q") / float64 ("d") values;
                                       codec "raw" as they are, "zlib-shuffle" with the 8
                                       bytes of each value split into 8 planes, then zlib'd

Version 1 files (``TAPEDESK-COLUMNS 1``, the store's first format) are the same without
``codec``: every column was "zlib-shuffle"; they are read as such. ``open_table`` is the one
place a file is judged: a wrong magic, a bad header, a column whose size disagrees with the
row count or a file size that disagrees with the header is a ``ColumnsError`` naming the
file, never a short read. Blocks of raw columns are checked again as they are read (a file
cut short while being read is an error too).

Bars are the columns ``BAR_COLUMNS``; ``make_bars`` is the one place they become ``Bar``
objects (C-level ``map`` over the columns: no Python code per bar but ``Bar`` itself).
"""

from __future__ import annotations

import json
import os
import zlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, BinaryIO

from tapedesk.engine.events import Bar

MAGIC = b"TAPEDESK-COLUMNS 2\n"
MAGIC_V1 = b"TAPEDESK-COLUMNS 1\n"
RAW, PACKED = "raw", "zlib-shuffle"
WIDTH = 8  # both "q" and "d"
#: Bars as columns, in ``Bar``'s argument order after the symbol (close_ms is ``Bar.ts``).
BAR_COLUMNS = (("open_ms", "q"), ("close_ms", "q"), ("open", "d"), ("high", "d"),
               ("low", "d"), ("close", "d"), ("volume", "d"))
_MAX_HEADER = 1 << 20


class ColumnsError(Exception):
    """A columns file that cannot be read (truncated, corrupt, not ours)."""


def make_bars(symbol: str, open_ms: Sequence[int], close_ms: Sequence[int],
              o: Sequence[float], h: Sequence[float], lo: Sequence[float],
              c: Sequence[float], v: Sequence[float]) -> Iterator[Bar]:
    """Bars from column lists, made as they are pulled: one C-level ``map``, the way every
    binary reader makes them. Lazily, because 65,536 live new objects at once cost the
    cyclic GC more than making them (a block read into a list took twice as long)."""
    return map(Bar, repeat(symbol), open_ms, close_ms, o, h, lo, c, v)


def _shuffle(raw: bytes) -> bytes:
    return b"".join(raw[i::WIDTH] for i in range(WIDTH))


def _unshuffle(raw: bytes) -> bytes:
    n = len(raw) // WIDTH
    out = bytearray(len(raw))
    for i in range(WIDTH):
        out[i::WIDTH] = raw[i * n:(i + 1) * n]
    return bytes(out)


def header_bytes(rows: int, meta: dict[str, Any], heads: list[dict[str, Any]]) -> bytes:
    head = {"rows": rows, "meta": meta, "columns": heads}
    return MAGIC + json.dumps(head, separators=(",", ":")).encode() + b"\n"


def write_table(path: Path, columns: dict[str, array], meta: dict[str, Any],
                codec: str = PACKED) -> int:
    """Write equal-length ``array('q')``/``array('d')`` columns atomically; bytes written."""
    lengths = {len(c) for c in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of unequal length: {sorted(lengths)}")
    blobs, heads = [], []
    for name, col in columns.items():
        if col.typecode not in "qd" or col.itemsize != WIDTH:
            raise ValueError(f"column {name}: type {col.typecode!r} is not int64/float64")
        blob = col.tobytes()
        if codec == PACKED:
            blob = zlib.compress(_shuffle(blob), 6)
        blobs.append(blob)
        heads.append({"name": name, "type": col.typecode, "codec": codec, "bytes": len(blob)})
    data = header_bytes(lengths.pop() if lengths else 0, meta, heads) + b"".join(blobs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # a crash leaves the old file or the new one, never half of one
    finally:
        tmp.unlink(missing_ok=True)
    return len(data)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    codec: str
    offset: int
    bytes: int


@dataclass(frozen=True)
class Table:
    """A checked columns file: what its header says, where each column lies."""

    path: Path
    rows: int
    meta: dict[str, Any]
    columns: dict[str, Column]
    size: int
    version: int
    inode: tuple[int, int]  # (st_dev, st_ino) of the file that was checked

    def _open(self, buffering: int = -1) -> BinaryIO:
        """The checked file, or one with the very same header (the same copy written again
        by another process: two optimizer workers); any other replacement is an error,
        never read with this header's offsets."""
        fh = open(self.path, "rb", buffering=buffering)  # noqa: SIM115
        st = os.fstat(fh.fileno())
        if (st.st_dev, st.st_ino) == self.inode and st.st_size == self.size:
            return fh
        try:
            now = open_table(self.path)
        except (OSError, ColumnsError):
            now = None
        if now is not None and now.inode == (st.st_dev, st.st_ino) and (
                now.rows, now.meta, now.columns, now.size) == (
                self.rows, self.meta, self.columns, self.size):
            return fh
        fh.close()
        raise ColumnsError(f"{self.path}: changed since it was checked")

    def column(self, name: str) -> array:
        """One whole column (decompressed), ``rows`` long or a ColumnsError."""
        col = self.columns[name]
        with self._open() as fh:
            fh.seek(col.offset)
            blob = fh.read(col.bytes)
        if len(blob) != col.bytes:
            raise ColumnsError(f"{self.path}: truncated while being read")
        try:
            raw = _unshuffle(zlib.decompress(blob)) if col.codec == PACKED else blob
        except zlib.error as exc:
            raise ColumnsError(f"{self.path}: data is truncated or corrupt ({exc})") from None
        if len(raw) != self.rows * WIDTH:
            raise ColumnsError(f"{self.path}: column {name} has {len(raw) // WIDTH} rows, "
                               f"not {self.rows}")
        out = array(col.type)
        out.frombytes(raw)
        return out

    def has_raw(self, names: Sequence[str]) -> bool:
        return all(n in self.columns and self.columns[n].codec == RAW for n in names)

    def value(self, name: str, row: int) -> int | float:
        """One value of a raw column (a seek and an 8-byte read)."""
        col = self.columns[name]
        with self._open() as fh:
            fh.seek(col.offset + row * WIDTH)
            got = fh.read(WIDTH)
        if len(got) != WIDTH:
            raise ColumnsError(f"{self.path}: truncated while being read")
        return array(col.type, got)[0]

    def first_at_least(self, name: str, value: int) -> int:
        """Index of the first row whose (sorted, raw) column ``name`` is >= ``value``."""
        col = self.columns[name]
        item = array(col.type)
        lo, hi = 0, self.rows
        with self._open() as fh:
            while lo < hi:
                mid = (lo + hi) // 2
                fh.seek(col.offset + mid * WIDTH)
                got = fh.read(WIDTH)
                if len(got) != WIDTH:
                    raise ColumnsError(f"{self.path}: truncated while being read")
                del item[:]
                item.frombytes(got)
                if item[0] < value:
                    lo = mid + 1
                else:
                    hi = mid
        return lo

    def blocks(self, names: Sequence[str], lo: int, hi: int, block: int,
               ) -> Iterator[list[memoryview]]:
        """Rows ``lo..hi`` of raw columns, ``block`` rows at a time: each column's bytes as
        read, seen as native int64/float64 values (a ``memoryview``, which makes each
        Python value as it is iterated: no list of them is built and freed per block).

        One unbuffered handle per column, each moving through its column: the first one's
        offset is how far the reading is (the backtest's progress bar follows it).
        """
        cols = [self.columns[n] for n in names]
        files: list[BinaryIO] = []
        try:
            for _ in cols:
                files.append(self._open(buffering=0))
            for f, col in zip(files, cols, strict=True):
                f.seek(col.offset + lo * WIDTH)
            i = lo
            while i < hi:
                k = min(block, hi - i)
                want = k * WIDTH
                out = []
                for f, col in zip(files, cols, strict=True):
                    got = f.read(want)
                    if len(got) != want:
                        raise ColumnsError(f"{self.path}: truncated while being read")
                    out.append(memoryview(got).cast(col.type))
                i += k
                yield out
        finally:
            for f in files:
                f.close()


def open_table(path: Path | str) -> Table:
    """Read and check the header of a columns file (no data): a ``Table`` or ColumnsError."""
    path = Path(path)
    with open(path, "rb") as fh:
        first = fh.read(len(MAGIC))
        line = fh.readline(_MAX_HEADER)
        st = os.fstat(fh.fileno())
    size = st.st_size
    if first == MAGIC:
        version = 2
    elif first == MAGIC_V1:
        version = 1
    else:
        raise ColumnsError(f"{path}: not a tapedesk columns file")
    if not line.endswith(b"\n"):
        raise ColumnsError(f"{path}: truncated or corrupt (the header is cut short)")
    try:
        head = json.loads(line)
        rows = head["rows"]
        meta = head.get("meta", {})
        pos = len(first) + len(line)
        columns: dict[str, Column] = {}
        for c in head["columns"]:
            codec = c["codec"] if version == 2 else PACKED
            nbytes = c["bytes"]
            ok = (isinstance(rows, int) and rows >= 0 and isinstance(nbytes, int)
                  and nbytes >= 0 and c["type"] in ("q", "d") and codec in (RAW, PACKED)
                  and isinstance(c["name"], str) and c["name"] not in columns
                  and isinstance(meta, dict))
            if not ok:
                raise ValueError(c)
            if codec == RAW and nbytes != rows * WIDTH:
                raise ColumnsError(f"{path}: column {c['name']} holds {nbytes:,} bytes, "
                                   f"{rows:,} rows need {rows * WIDTH:,}")
            columns[c["name"]] = Column(c["name"], c["type"], codec, pos, nbytes)
            pos += nbytes
    except (KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError):
        raise ColumnsError(f"{path}: header is corrupt") from None
    if pos != size:  # cut short (or grown): the data behind the header is not all there
        raise ColumnsError(f"{path}: truncated or corrupt ({size:,} bytes, the header "
                           f"describes {pos:,})")
    return Table(path, rows, meta, columns, size, version, (st.st_dev, st.st_ino))


def read_header(path: Path) -> dict[str, Any]:
    """The header alone (rows, meta, columns): what ``data list`` needs, without the data."""
    t = open_table(path)
    return {"rows": t.rows, "meta": t.meta,
            "columns": [{"name": c.name, "type": c.type, "codec": c.codec, "bytes": c.bytes}
                        for c in t.columns.values()]}


def read_table(path: Path) -> tuple[dict[str, array], dict[str, Any]]:
    """All columns and the meta dict. Raises ColumnsError for a damaged file."""
    t = open_table(path)
    return {name: t.column(name) for name in t.columns}, t.meta

