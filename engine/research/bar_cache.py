"""The bars a search's trials read: the data file's binary copy (``feeds.bar_copy``).

A trial streams its window from the copy instead of re-parsing the text: parsing is more
than half the cost of a backtest on 1m bars, and a window starts with a binary search of
the copy's sorted close times instead of reading everything before it. The copy holds
exactly the bars ``iter_events`` yields (it builds it), so results do not change, and it is
the same copy ``tapedesk backtest`` reads (``<data dir>/cache/bars``): one format, one
invalidation rule (the source's real path, size and mtime). Stream captures and
market-data selections are not copied: trials read them as a backtest does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tapedesk.engine.events import Bar
from tapedesk.engine.feeds import bar_copy
from tapedesk.engine.feeds.columnar import Table

#: A copy and the symbol its bars get.
Cache = tuple[Table, str]


def ensure(spec_fmt: str, data: Path, symbol: str | None,
           cache_dir: Path | None) -> Cache | None:
    """(the copy, the bars' symbol) — written now when missing — or None when the data is
    not copied (stream captures, selections, no cache dir, an unreadable copy)."""
    from tapedesk.engine.feeds.files import DEFAULT_SYMBOL, symbol_from_name

    table = bar_copy.ensure_copy(data, spec_fmt, cache_dir)
    if table is None:
        return None
    return table, (symbol or symbol_from_name(data) or DEFAULT_SYMBOL).upper()


def span(cache: Cache, start: int | None = None,
         end: int | None = None) -> tuple[int, int, int]:
    """(first ts, last ts + 1, bars) of the copied bars in ``[start, end)``."""
    return bar_copy.span(cache[0], start, end)


def iter_bars(cache: Cache, start: int | None = None,
              end: int | None = None) -> Iterator[Bar]:
    """Bars with ``start <= ts < end`` (close time), as ``iter_events`` keeps them."""
    return bar_copy.read_copy(cache[0], cache[1], start, end)


def drop_old_caches(data_dir: Path) -> None:
    """Remove the optimizer's packed copies from before the one format
    (``optimize/cache/<sha>-<SYM>.bars``, magic ``TDBARS1``): never read now, 56 MB a
    million bars each."""
    old = Path(data_dir) / "optimize" / "cache"
    for path in old.glob("*.bars"):
        with contextlib.suppress(OSError):
            with path.open("rb") as fh:
                ours = fh.read(8) == b"TDBARS1\0"
            if ours:
                path.unlink()
    with contextlib.suppress(OSError):
        old.rmdir()  # only when nothing else is left in it
