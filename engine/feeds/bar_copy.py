"""Binary copies of bar files (``columnar`` format, raw columns), read instead of the text.

Parsing text is most of a streamed backtest's reading cost; reading the same bars back from
raw int64/float64 columns is a few ``read`` + ``frombytes`` + ``tolist`` calls per 16,384
bars. Two users, one copy per source file, ``<cache dir>/<sha256 of its real path>.cols``
(the desk's cache dir is ``<data dir>/cache/bars``):

- ``tapedesk backtest`` (``csv_stream.csv_bars``): a CSV of at least ``MIN_SOURCE_BYTES``
  read whole is copied as it is read; a copy is used only if no row of the file was
  skipped (``meta.clean``), since reading a copy cannot repeat the text's skip warnings.
- ``tapedesk optimize`` (``ensure_copy``): any bar file but stream captures and market-data
  selections (whose bars live in other files) is copied once, then every trial reads its
  window from the copy.

One invalidation rule (``valid_copy``): a copy stands for its source only if its header
names the source's real path, size, mtime_ns, inode and ctime_ns as they are now (and,
for a source modified just before it was copied, its checksum: ``RACY_NS``) and the format
it was read as, its columns are ``BAR_COLUMNS`` (names and types, raw), and
``columnar.open_table`` accepts it. Anything else — a changed source, an older
format (version-1 copies were directories of ``*.i64``/``*.f64`` files, the optimizer's
were ``*.bars`` records under ``optimize/cache``: neither is ever opened), a truncated,
corrupt or foreign file — is ignored and written anew.

Exactness: a copy holds exactly the bars the reader yielded from the whole file, with close
times never decreasing (else no copy), so a ``start``/``end`` cut of it (a bisection of the
sorted close times) is exactly the cut the reader makes; floats and ints are kept bit for bit.
"""

from __future__ import annotations

import contextlib
import operator
import os
import shutil
import time
import zlib
from array import array
from collections.abc import Iterator, Sequence
from functools import partial
from itertools import chain, islice, starmap
from operator import attrgetter
from pathlib import Path
from typing import Any

from tapedesk.engine.events import Bar
from tapedesk.engine.feeds.columnar import (
    BAR_COLUMNS,
    RAW,
    ColumnsError,
    Table,
    header_bytes,
    make_bars,
    open_table,
)

KIND = "bar-copy"
NAMES = tuple(name for name, _ in BAR_COLUMNS)
#: Rows read per column at once (~1 MiB of values; Bars made as the engine pulls them):
#: as fast as 65,536 and 16 MiB less peak memory (1M bars, 5 runs: 0.199 s vs 0.220 s).
BLOCK = 16_384
#: Files smaller than this are read from the text by a backtest (a copy would not pay).
MIN_SOURCE_BYTES = 4 << 20
#: A source modified this recently when its copy is made may change again within the same
#: timestamp tick (coarse clocks; 1-2 s on FAT/SMB): such a "racy" copy carries a checksum
#: of the source, checked whenever the copy is used (as git does for racy index entries).
RACY_NS = 3_000_000_000
#: Formats whose bars are a function of the file alone (so a copy can stand for it).
NOT_COPIED = ("ws_capture", "market_store")


def copy_path(cache_dir: str | Path, source: str | Path) -> Path:
    import hashlib  # here: loading OpenSSL is ~12 M instructions; a small file has no copy

    real = os.path.realpath(source)
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()
    return Path(cache_dir) / f"{digest}.cols"


def _identity(source: str | Path, fmt: str) -> dict[str, Any]:
    """Size and mtime alone miss a same-size file put in place with its mtime kept (``cp
    -p``, ``rsync -t``, ``tar x``): the inode and the change time (which no tool can set)
    tell."""
    st = os.stat(source)
    return {"kind": KIND, "source": os.path.realpath(source), "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "ino": st.st_ino, "ctime_ns": st.st_ctime_ns,
            "format": fmt}


def valid_copy(cache_dir: str | Path, source: str | Path, fmt: str) -> Table | None:
    """The copy of ``source`` as it is now (checked), or None: the one invalidation rule."""
    try:
        table = open_table(copy_path(cache_dir, source))
        ident = _identity(source, fmt)
    except (OSError, ColumnsError):
        return None
    if any(table.meta.get(k) != v for k, v in ident.items()):
        return None
    try:
        if "crc32" in table.meta and table.meta["crc32"] != _crc32(source):
            return None  # a racy copy: its source changed within one timestamp tick
    except OSError:
        return None
    # the bar columns with their types: a float64 column announced as int64 reads as garbage
    if [(c.name, c.type) for c in table.columns.values()] != list(BAR_COLUMNS) or not (
            table.has_raw(NAMES) and table.rows):
        return None
    return table


def progress_file(cache_dir: str | Path, source: str | Path) -> tuple[Path, float] | None:
    """(the copy, source bytes per copy byte): reading the copy's first column, the offset
    of its handle scaled by this stands for how far into the source the reading is."""
    path = copy_path(cache_dir, source)
    try:
        table = open_table(path)
        end = table.columns[NAMES[0]].offset + table.rows * 8  # the first column's end
        return path, os.stat(source).st_size / max(1, end)
    except (OSError, ColumnsError, KeyError):
        return None


def _cut(table: Table, start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
    lo = table.first_at_least("close_ms", start_ms) if start_ms is not None else 0
    hi = table.first_at_least("close_ms", end_ms) if end_ms is not None else table.rows
    return lo, max(lo, hi)


def read_copy(table: Table, symbol: str, start_ms: int | None = None,
              end_ms: int | None = None) -> CopyBars:
    """The bars of a copy with ``start_ms <= ts < end_ms``: an iterator of C-level parts
    (no generator per bar; the file is opened when the first bar is pulled). A copy cut
    short or replaced after it was checked is a DataError, never fewer or other bars."""
    try:
        lo, hi = _cut(table, start_ms, end_ms)
    except ColumnsError as exc:
        raise _broken(table, exc) from None
    return CopyBars(symbol, _checked(table, table.blocks(NAMES, lo, hi, BLOCK)))


class CopyBars:
    """``read_copy``'s bars. Iterated, a C-level ``chain`` of ``map(Bar, ...)`` per block
    (no Python frame per bar); or, taken whole instead, the raw column blocks
    (``column_blocks``), for a reader that makes the bars in its own loop
    (``backtest.run_backtest``: cheaper than ``Bar.__init__`` called from C)."""

    __slots__ = ("_bars", "_blocks", "symbol")

    def __init__(self, symbol: str, blocks: Iterator[list[Any]]) -> None:
        self.symbol = symbol
        self._blocks = blocks
        self._bars: Iterator[Bar] | None = None

    def __iter__(self) -> Iterator[Bar]:
        if self._bars is None:
            self._bars = chain.from_iterable(starmap(partial(make_bars, self.symbol),
                                                     self._blocks))
        return self._bars

    def __next__(self) -> Bar:
        return next(self.__iter__())

    def column_blocks(self) -> Iterator[list[Any]] | None:
        """The columns of ``NAMES`` (open_ms, close_ms, open, high, low, close, volume) a
        block at a time, instead of the bars; None once the bars have begun to be read."""
        if self._bars is not None:
            return None
        self._bars = iter(())  # taken: the bars are the caller's to make now
        return self._blocks


def _checked(table: Table, blocks: Iterator[list[list[Any]]]) -> Iterator[list[list[Any]]]:
    try:
        yield from blocks
    except ColumnsError as exc:
        raise _broken(table, exc) from None


def _broken(table: Table, exc: ColumnsError) -> Exception:
    from tapedesk.engine.feeds.checks import DataError

    return DataError(table.meta.get("source", table.path),
                     f"its binary copy broke while being read ({exc}); run again: the copy "
                     "is checked (and rebuilt) before it is read")


def span(table: Table, start_ms: int | None = None,
         end_ms: int | None = None) -> tuple[int, int, int]:
    """(first close time, last close time + 1, bars) of the copy's bars in the window."""
    lo, hi = _cut(table, start_ms, end_ms)
    if hi <= lo:
        raise ValueError(f"{table.meta.get('source', table.path)}: no bars in the chosen range")
    return (int(table.value("close_ms", lo)), int(table.value("close_ms", hi - 1)) + 1,
            hi - lo)


class CopyWriter:
    """Append bars a block at a time; ``commit`` publishes the copy, ``abandon`` drops it.

    Columns are written to ``<copy>.<pid>.partN`` files, then joined behind the header into
    ``<copy>.<pid>.tmp`` and renamed into place, so a reader never sees half a copy; a bar
    whose close time goes back (or a full disk) makes the copy unusable (``ok`` turns False).
    """

    def __init__(self, cache_dir: str | Path, source: str | Path, fmt: str) -> None:
        self.final = copy_path(cache_dir, source)
        self.meta = _identity(source, fmt)
        self.racy = time.time_ns() - self.meta["mtime_ns"] < RACY_NS
        if self.racy:
            self.meta["crc32"] = _crc32(source)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        stem = f"{self.final.name}.{os.getpid()}"
        self.parts = [self.final.with_name(f"{stem}.part{i}") for i in range(len(NAMES))]
        self.files: list[Any] = []
        try:
            for p in self.parts:
                self.files.append(open(p, "wb"))  # noqa: SIM115
        except OSError:  # (no part left behind when the disk is full or read-only)
            self.parts = self.parts[:len(self.files)]
            self.abandon()
            raise
        self.getters = [attrgetter(a) for a in
                        ("open_ts", "ts", "open", "high", "low", "close", "volume")]
        self.rows = 0
        self.last_ts: int | None = None
        self.ok = True

    def add(self, bars: list[Bar]) -> None:
        if bars and self.ok:
            self.add_columns([list(map(get, bars)) for get in self.getters])

    def add_columns(self, cols: Sequence[Sequence[Any]]) -> None:
        """Bars as their columns, in ``BAR_COLUMNS`` order (what a clean CSV block parsed to:
        no Bar attributes read back)."""
        ts = cols[1]
        if not ts or not self.ok:
            return
        if (self.last_ts is not None and ts[0] < self.last_ts) or not all(
                map(operator.le, ts, islice(ts, 1, None))):
            self.ok = False
            return
        self.last_ts = ts[-1]
        try:
            for f, col, (_, code) in zip(self.files, cols, BAR_COLUMNS, strict=True):
                array(code, col).tofile(f)
        except (OSError, TypeError):  # a full disk (or a non-bar) spoils the copy only
            self.ok = False
            return
        self.rows += len(ts)

    def commit(self, clean: bool) -> Table | None:
        """Publish the copy if every bar so far was fine (else drop it); ``clean``: no row
        of the source was skipped."""
        tmp = self.final.with_name(self.parts[0].name.replace(".part0", ".tmp"))
        try:
            for f in self.files:
                f.close()
            if not self.ok or not self.rows or not self._same_source():
                return None  # (the source changed while it was read: its bars may be mixed)
            heads = [{"name": n, "type": code, "codec": RAW, "bytes": self.rows * 8}
                     for n, code in BAR_COLUMNS]
            with open(tmp, "wb") as out:
                out.write(header_bytes(self.rows, {**self.meta, "clean": clean}, heads))
                for p in self.parts:
                    with open(p, "rb") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
            os.replace(tmp, self.final)
            _drop_old_format(self.final)
            return open_table(self.final)
        except (OSError, ColumnsError):
            return None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            self.abandon()

    def _same_source(self) -> bool:
        meta = self.meta
        now = _identity(meta["source"], meta["format"])
        if any(meta[k] != v for k, v in now.items()):
            return False
        return not self.racy or _crc32(meta["source"]) == meta["crc32"]

    def abandon(self) -> None:
        for f, p in zip(self.files, self.parts, strict=True):
            with contextlib.suppress(OSError):
                f.close()
            with contextlib.suppress(OSError):
                p.unlink(missing_ok=True)


def _crc32(source: str | Path) -> int:
    crc = 0
    with open(source, "rb") as fh:
        while block := fh.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


def _drop_old_format(final: Path) -> None:
    """A version-1 copy of the same source (a directory named by the same digest)."""
    old = final.with_suffix("")
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)


def ensure_copy(source: str | Path, fmt: str, cache_dir: str | Path | None) -> Table | None:
    """The copy of ``source`` (written now, from the reader, when there is no valid one), or
    None for formats that are not copied, no cache dir, a cache dir nothing can be written
    to, or a file the copy cannot hold.
    Skipped rows do not prevent it (``clean`` says so): the optimizer drops warnings."""
    if cache_dir is None or fmt in NOT_COPIED:
        return None
    table = valid_copy(cache_dir, source, fmt)
    if table is not None:
        return table
    from tapedesk.engine.feeds.files import iter_events

    warned: list[str] = []
    events = iter_events(source, None, None, None, warned.append, fmt)
    try:
        writer = CopyWriter(cache_dir, source, fmt)
    except OSError:  # a read-only or full data dir: the caller reads the text, as without
        return None
    try:
        while block := list(islice(events, BLOCK)):
            if any(type(b) is not Bar for b in block):
                writer.ok = False
                break
            writer.add(block)
    except BaseException:
        writer.abandon()
        raise
    return writer.commit(clean=not warned)
