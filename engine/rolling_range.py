"""The high/low range of the last N bars, for a caller that asks for it now and then.

Kept apart from engine/indicators.py (whose indicators answer on every update): grid feeds
every bar but only looks at its range while it is searching for a new one.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any


class RollingRange:
    """Highest high and lowest low of the last ``period`` bars, for a caller that asks now
    and then (grid: only while it looks for a new range) but must feed every bar.

    Blocks of ``period`` bars (van Herk / Gil-Werman): the window is the tail of the last
    full block plus the current one, so its extreme is max(suffix max of the last block,
    running max of this one). ``update`` is two appends and two compares; the last block's
    tails are looked at only when a question needs them (its max beats this block's), and
    worked out once per block (in C) from the second such question on, so questions cost
    O(1) each, amortised, however prices trend. Exact: the same numbers as
    :class:`RollingMax` / :class:`RollingMin` over the same window.
    """

    __slots__ = ("_hi", "_highs", "_i", "_lo", "_lows", "_prev", "_tail_hi", "_tail_lo", "period")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"rolling range period must be >= 1, got {period}")
        self.period = period
        self._i = -1
        self._highs: list[float] = []  # the current block, and its running max/min
        self._lows: list[float] = []
        self._hi = float("-inf")
        self._lo = float("inf")
        # the last full block: its highs, lows, and their max and min
        self._prev: tuple[list[float], list[float], float, float] = ([], [], self._hi, self._lo)
        # what is known of its tails' max and min (``_tail``)
        self._tail_hi: Any = None
        self._tail_lo: Any = None

    def update(self, high: float, low: float) -> None:
        self._i += 1
        highs = self._highs
        if len(highs) == self.period:  # the block is full: it becomes the last block
            self._prev = (highs, self._lows, self._hi, self._lo)
            self._tail_hi = self._tail_lo = None
            self._highs = [high]
            self._lows = [low]
            self._hi = high
            self._lo = low
            return
        highs.append(high)
        self._lows.append(low)
        if high > self._hi:
            self._hi = high
        if low < self._lo:
            self._lo = low

    @staticmethod
    def _tail(cache: Any, block: list[float], k: int, pick: Any) -> tuple[Any, float]:
        """``pick`` (max or min) of ``block[k:]``, and the cache to keep for the next question.

        The first question in a block takes one slice; from the second on, the block's tails
        from ``k`` on are worked out once (k only grows within a block) and then looked up."""
        if cache is None:
            return k, pick(block[k:])
        if type(cache) is int:
            tails = list(accumulate(reversed(block[k:]), pick))
            tails.reverse()
            cache = (k, tails)
        return cache, cache[1][k - cache[0]]

    def high(self) -> float | None:
        """The highest high of the last ``period`` bars (None until that many were fed)."""
        if self._i + 1 < self.period:
            return None
        hi = self._hi
        k = len(self._highs)  # the window: the last block from index k on, then this one
        if k < self.period and self._prev[2] > hi:  # the last block's tail may be higher
            self._tail_hi, tail = self._tail(self._tail_hi, self._prev[0], k, max)
            if tail > hi:
                return tail
        return hi

    def low(self) -> float | None:
        """The lowest low of the last ``period`` bars (None until that many were fed)."""
        if self._i + 1 < self.period:
            return None
        lo = self._lo
        k = len(self._lows)
        if k < self.period and self._prev[3] < lo:
            self._tail_lo, tail = self._tail(self._tail_lo, self._prev[1], k, min)
            if tail < lo:
                return tail
        return lo
