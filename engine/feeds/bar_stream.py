"""Checked rows → ordered bars, one row at a time or a clean block of columns at once.

``BarStream`` is the one implementation of what happens to a bar row after it is parsed:
the sanity checks (``checks.bar_problem``), the leap filter (one timestamp days ahead of both
neighbours is dropped), the interval inferred from the first ``HEAD`` rows, the "open time
does not advance" and "close before open" skips, and the ``start_ms``/``end_ms`` cut. Its
state lives in the object, not in a chain of generators, so a reader can hand it rows one
by one (``push``) where a block of the file is irregular, and a whole block of columns
(``take_columns``) where the block is clean — the CSV streaming reader's fast path, which
the engine gets bars from at C speed. ``take_columns`` refuses (returns None, having
changed nothing) unless the block provably gives the very same bars, skips and state that
``push`` row by row would: then the caller pushes the block's rows instead.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
from collections.abc import Iterator
from itertools import repeat

from tapedesk.engine.events import Bar
from tapedesk.engine.feeds.checks import MAX_PRICE, MAX_SIZE, MIN_TS_MS, Skips, bar_problem
from tapedesk.engine.feeds.checks import max_ts_ms as _max_ts_ms

#: A single timestamp this far ahead of its neighbours is a corrupt one, not a gap.
LEAP_MS = 86_400_000
#: Rows whose smallest time step gives the interval of a file without close times.
HEAD = 64

Row = tuple[int, int, int | None, float, float, float, float, float]


class BarStream:
    """Rows in, bars out (``out``, drained by the caller); ``done`` once past ``end_ms``."""

    def __init__(self, symbol: str, interval_hint: int | None, skips: Skips,
                 start_ms: int | None, end_ms: int | None) -> None:
        self.symbol = symbol
        self.interval_hint = interval_hint
        self.skips = skips
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.max_ms = _max_ts_ms()
        self.prev_t: int | None = None  # the leap filter's last passed time
        self.held: Row | None = None  # a row leaping ahead, until its successor judges it
        self.head: list[Row] | None = []  # None once the interval is known
        self.interval = 0
        self.last_open: int | None = None
        self.done = False
        self.out: list[Bar] = []
        #: The columns of the bars ``take_columns`` last returned (a copy is written from them).
        self.taken: tuple[list, ...] = ()

    # -- row by row ---------------------------------------------------------------------

    def push(self, row: Row) -> None:
        """One parsed row: checked, leap-filtered, then made a bar (or skipped)."""
        bad = bar_problem(*row[1:], self.max_ms)  # type: ignore[arg-type]
        if bad:
            self.skips.add(row[0], bad)
            return
        t = row[1]
        held = self.held
        if held is not None:
            self.held = None
            if t < held[1]:
                self.skips.add(held[0], f"time {held[1]} leaps ahead of its neighbours")
            else:
                self.prev_t = held[1]
                self._emit(held)
                if self.done:
                    return
        if self.prev_t is not None and t - self.prev_t > LEAP_MS:
            self.held = row
            return
        self.prev_t = t
        self._emit(row)

    def finish(self) -> None:
        """End of the file: a held row stands, and a short file's head is judged."""
        if self.done:
            return
        if self.held is not None:
            held, self.held = self.held, None
            self._emit(held)
        if self.head is not None and not self.done:
            self._end_head()

    def _emit(self, row: Row) -> None:
        head = self.head
        if head is None:
            self._bar(row)
            return
        head.append(row)
        if len(head) == HEAD:
            self._end_head()

    def _end_head(self) -> None:
        head, self.head = self.head or [], None
        deltas = [b[1] - a[1] for a, b in itertools.pairwise(head) if b[1] > a[1]]
        back = sum(1 for a, b in itertools.pairwise(head) if b[1] < a[1])
        if back > len(deltas) and back >= 2:
            # Newest first (some sites publish them so): row by row it would keep the first
            # bar and skip the rest as "out of order", a one-bar result that looks like one.
            from tapedesk.engine.feeds.checks import DataError

            raise DataError(self.skips.where, "rows are in reverse time order (newest first); "
                            "sort the file oldest first", head[0][0])
        self.interval = min(deltas) if deltas else (self.interval_hint or 60_000)
        for row in head:
            self._bar(row)
            if self.done:
                return

    def _bar(self, row: Row) -> None:
        lineno, t, ct, o, h, lo, c, v = row
        if self.last_open is not None and t <= self.last_open:
            self.skips.add(lineno, f"bar open time {t} does not advance (duplicate or out of order)")
            return
        self.last_open = t
        ts = ct if ct is not None else t + self.interval - 1
        if ts < t:
            self.skips.add(lineno, f"close time {ts} is before open time {t}")
            return
        if self.start_ms is not None and ts < self.start_ms:
            return
        if self.end_ms is not None and ts >= self.end_ms:
            self.done = True
            return
        self.out.append(Bar(self.symbol, t, ts, o, h, lo, c, v))

    # -- a clean block at once ----------------------------------------------------------

    def take_columns(self, open_ts: list[int], close_ts: list[int] | None, o: list[float],
                     h: list[float], lo: list[float], c: list[float], v: list[float],
                     ) -> Iterator[Bar] | None:
        """A block of parsed rows as columns: its bars, made as they are pulled (65,536 new
        objects alive at once cost the cyclic GC more than making them); None (nothing
        changed) unless the block is clean. Call it with ``out`` empty: the block's bars
        come after the bars already out.

        Clean: every row passes ``bar_problem``, open times strictly increase (from the
        last bar's too) in steps of at most ``LEAP_MS``, close times are sorted and not
        before their open times — so ``push`` would skip nothing, hold nothing and emit
        every row, which is what this does with C-level ``map``s.
        """
        n = len(open_ts)
        if self.head is not None or self.held is not None or self.done or not n:
            return None
        first, last = open_ts[0], open_ts[-1]
        if (self.last_open is not None and first <= self.last_open) or (
                self.prev_t is not None and first - self.prev_t > LEAP_MS):
            return None
        if first < MIN_TS_MS or last > self.max_ms:
            return None
        if n > 1:  # strictly increasing, in steps of at most LEAP_MS
            steps = list(map(operator.sub, itertools.islice(open_ts, 1, None), open_ts))
            if min(steps) <= 0 or max(steps) > LEAP_MS:
                return None
        if close_ts is None:
            close_ts = list(map(operator.add, open_ts, repeat(self.interval - 1)))
            if self.interval < 1:
                return None
        else:
            if close_ts[0] < MIN_TS_MS or close_ts[-1] > self.max_ms:
                return None
            if not all(map(operator.le, close_ts, itertools.islice(close_ts, 1, None))):
                return None
            if not all(map(operator.le, open_ts, close_ts)):
                return None
        if not _sane_values(o, h, lo, c, v):
            return None
        lo_i, hi_i = 0, n
        if self.start_ms is not None:
            lo_i = bisect.bisect_left(close_ts, self.start_ms)
        if self.end_ms is not None:
            hi_i = bisect.bisect_left(close_ts, self.end_ms)
            if hi_i < n:
                self.done = True
        self.prev_t = self.last_open = last if hi_i == n else open_ts[hi_i]
        if lo_i or hi_i < n:
            if lo_i >= hi_i:
                return iter(())
            open_ts, close_ts, o, h, lo, c, v = (
                x[lo_i:hi_i] for x in (open_ts, close_ts, o, h, lo, c, v))
        self.taken = (open_ts, close_ts, o, h, lo, c, v)
        return map(Bar, repeat(self.symbol), open_ts, close_ts, o, h, lo, c, v)


def _sane_values(o: list[float], h: list[float], lo: list[float], c: list[float],
                 v: list[float]) -> bool:
    """``bar_problem``'s value checks, a column at a time, in as few passes as prove them.

    ``lo <= o <= h`` and ``lo <= c <= h`` fail for a NaN anywhere in o/h/lo/c (every
    comparison with NaN is False) and, with ``min(lo) > 0`` and ``max(h) < MAX_PRICE``, put
    every price in ``(0, MAX_PRICE)`` (so finite) and imply ``lo <= h``. Volume is bounded
    by ``min``/``max``, which can step over a NaN: its sum is finite only if every value is
    (inf and NaN propagate; an overflowing sum merely refuses the block)."""
    if not math.isfinite(sum(v)):
        return False
    if not (min(lo) > 0 and max(h) < MAX_PRICE and min(v) >= 0 and max(v) < MAX_SIZE):
        return False
    le = operator.le
    return all(map(le, lo, o)) and all(map(le, o, h)) and all(map(le, lo, c)) and all(
        map(le, c, h))
