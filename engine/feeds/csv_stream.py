"""CSV bar files read a block of lines at a time: what ``files.iter_events`` streams for the
CSV layouts (binance_csv, ohlcv_csv, ninjabot_csv).

A clean block is parsed a column at a time (``csv_columns``) and taken whole by
``bar_stream.BarStream``; any other block goes through the row readers of ``readers``, line
by line, into the same ``BarStream`` — so the bars, the skips and the ``file:line`` of an
error are the line-by-line reader's exactly. With a ``cache_dir`` the bars come from, or are
copied to, a binary copy (``bar_copy``).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from tapedesk.engine.events import Bar
from tapedesk.engine.feeds import bar_copy, files
from tapedesk.engine.feeds.bar_stream import BarStream
from tapedesk.engine.feeds.checks import DataError, Skips
from tapedesk.engine.feeds.csv_columns import OhlcvColumns, binance_columns, ninjabot_columns
from tapedesk.engine.feeds.readers import (
    _binance_csv_rows,
    _ninjabot_rows,
    ohlcv_header,
    ohlcv_rows,
)

#: Characters of lines read at once by the CSV bar reader (~4,000 1m lines, ~3 MiB of
#: objects while a block is parsed): a block costs one Python loop, not one per line.
#: 256 KiB measured as fast as 1 MiB, and the progress bar moves in finer steps.
BLOCK_CHARS = 1 << 18

CSV_BAR_FORMATS: dict[str, Callable[..., Any]] = {
    "binance_csv": binance_columns, "ninjabot_csv": ninjabot_columns, "ohlcv_csv": OhlcvColumns}


def csv_bars(path: str | Path, fmt: str, symbol: str, interval_hint: int | None, skips: Skips,
             start_ms: int | None, end_ms: int | None,
             cache_dir: str | Path | None) -> Iterator[Bar]:
    """From the binary copy when there is a valid, clean one; else from the text, copying a
    large file read whole into ``cache_dir`` (``bar_copy``).

    Returns a chain of blocks (lists of bars), not a generator of bars: a bar passes no
    Python frame between the file and ``iter_events``.
    """
    if cache_dir is None or _small(path):  # a small file is never copied: no copy to look for
        return chain.from_iterable(_csv_blocks(path, fmt, symbol, interval_hint, skips,
                                               start_ms, end_ms))
    copy = bar_copy.valid_copy(cache_dir, path, fmt)
    if copy is not None and copy.meta.get("clean") is True:
        return bar_copy.read_copy(copy, symbol, start_ms, end_ms)
    writer = None
    if copy is None and start_ms is None and end_ms is None:
        with contextlib.suppress(OSError):
            if Path(path).stat().st_size >= bar_copy.MIN_SOURCE_BYTES:
                writer = bar_copy.CopyWriter(cache_dir, path, fmt)
    blocks = _csv_blocks(path, fmt, symbol, interval_hint, skips, start_ms, end_ms, writer)
    return chain.from_iterable(_copying(writer, blocks) if writer else blocks)


def _small(path: str | Path) -> bool:
    """Below ``bar_copy.MIN_SOURCE_BYTES``: read from the text (looking for a copy would
    cost a SHA-256 of the path, OpenSSL's loading included, ~12 M instructions)."""
    try:
        return Path(path).stat().st_size < bar_copy.MIN_SOURCE_BYTES
    except OSError:
        return False  # the reader says what is wrong with it


def _copying(writer: bar_copy.CopyWriter, blocks: Iterator[Iterable[Bar]],
             ) -> Iterator[Iterable[Bar]]:
    """``blocks`` passed on; the copy is dropped if they raise or are left unfinished
    (``_csv_blocks`` publishes it at their end)."""
    try:
        yield from blocks
    except BaseException:
        writer.abandon()
        raise


def _csv_blocks(path: str | Path, fmt: str, symbol: str, interval_hint: int | None,
                skips: Skips, start_ms: int | None, end_ms: int | None,
                writer: bar_copy.CopyWriter | None = None) -> Iterator[Iterable[Bar]]:
    """The bars of a CSV layout in lists, read ``BLOCK_CHARS`` at a time: a clean block goes
    through ``csv_columns`` and ``BarStream.take_columns`` at once, any other through the row
    reader, line by line, into the same ``BarStream`` — so the result is the row reader's,
    exactly. A clean block's bars come as a lazy ``map``; a list handed out is cleared when
    the next is asked for. The skip summary goes to ``warn`` once the bars are all out.

    A compressed file that breaks mid-block is re-read line by line from the end of the last
    whole block, so the error names the same line (and an ``end_ms`` before the break is
    reached first) as the line-by-line reader would.
    """
    where = str(path)
    stream = BarStream(symbol, interval_hint, skips, start_ms, end_ms)
    out = stream.out
    columns = CSV_BAR_FORMATS[fmt]
    if fmt == "ohlcv_csv":
        columns = columns()
    spec = None
    consumed = 0  # lines handed to the stream
    try:
        with files.open_text(path) as fh, files._read_errors(path):
            if fmt == "ohlcv_csv":
                spec = ohlcv_header(iter(fh.readline, ""), where)
                consumed = spec.line
            readlines = fh.readlines
            while not stream.done:
                lines = readlines(BLOCK_CHARS)
                if not lines:
                    break
                first = consumed + 1
                consumed += len(lines)
                block = columns(lines, spec) if stream.head is None else None
                taken = stream.take_columns(*block) if block is not None else None
                if taken is not None:
                    if writer is not None:
                        writer.add_columns(stream.taken)
                    yield taken
                    continue
                _push_rows(stream, _line_rows(fmt, lines, where, skips, first, spec))
                if out:
                    if writer is not None:
                        writer.add(out)
                    yield out
                    out.clear()
    except DataError as exc:
        if not exc.reason.startswith("compressed data"):
            raise
        yield from _rest_by_line(path, fmt, stream, consumed, spec, skips)
        _end(writer, skips)
        return
    stream.finish()
    if writer is not None:
        writer.add(out)
    yield out
    _end(writer, skips)


def _end(writer: bar_copy.CopyWriter | None, skips: Skips) -> None:
    """The file read to its end (or to ``end_ms``): publish the copy, say what was skipped.
    Here, not after an error: a generator that raised is over."""
    if writer is not None:
        writer.commit(clean=not skips.count)
    skips.report()


def _line_rows(fmt: str, lines: Iterable[str], where: str, skips: Skips, first: int,
               spec: Any) -> Iterator[Any]:
    if fmt == "ohlcv_csv":
        return ohlcv_rows(lines, spec, skips, first)
    reader = _binance_csv_rows if fmt == "binance_csv" else _ninjabot_rows
    return reader(lines, where, skips, first)


def _push_rows(stream: BarStream, rows: Iterator[Any]) -> None:
    push = stream.push
    for row in rows:
        push(row)
        if stream.done:
            return


def _rest_by_line(path: str | Path, fmt: str, stream: BarStream, consumed: int, spec: Any,
                  skips: Skips) -> Iterator[list[Bar]]:
    """The lines after the first ``consumed``, one by one (see ``_csv_bars``)."""
    out = stream.out
    with files.open_text(path) as raw:
        fh = files._Counted(raw)
        with files._read_errors(path, fh):
            lines = iter(fh)
            for _ in itertools.islice(lines, consumed):
                pass
            if fmt == "ohlcv_csv" and spec is None:
                spec = ohlcv_header(lines, str(path))
                consumed = spec.line
            rows = _line_rows(fmt, lines, str(path), skips, consumed + 1, spec)
            for row in rows:
                stream.push(row)
                if out:
                    yield out
                    out.clear()
                if stream.done:
                    return
    stream.finish()
    yield out
