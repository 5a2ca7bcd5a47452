"""Equity samples with a memory ceiling: a desk left running for months must not grow.

The engine appends one (ts, equity) point per sample period while a position is open, for
the equity strip, the chart and the backtest's drawdown. Points live in two flat arrays
(16 bytes a point instead of ~110 for a tuple of boxed numbers). Past ``cap`` points the
older half is thinned: each group of four becomes its highest and lowest point, in time
order, so peaks and troughs (what drawdown is made of) survive and only the path between
them is lost. The newest half always stays at full resolution.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Iterator
from typing import overload

DEFAULT_CAP = 100_000  # ~2.8 years of 15-minute samples in position before any thinning


class EquityHistory:
    """A list-like, append-only sequence of ``(ts_ms, equity)`` tuples, bounded by ``cap``."""

    __slots__ = ("_eq", "_ts", "cap", "thinned")

    def __init__(self, points: Iterable[tuple[int, float]] = (), cap: int = DEFAULT_CAP) -> None:
        if cap < 8:
            raise ValueError(f"cap must be at least 8, got {cap}")
        self.cap = cap
        self.thinned = 0  # points dropped so far (reported by whoever cares)
        self._ts = array("q")
        self._eq = array("d")
        for ts, eq in points:
            self.append((ts, eq))

    @classmethod
    def whole(cls, ts: array, equity: array) -> EquityHistory:
        """Points already in two arrays (a strategy's closed-trade curve), kept whole."""
        history = cls(cap=sys.maxsize)
        history._ts, history._eq = ts, equity
        return history

    def append(self, point: tuple[int, float]) -> None:
        self.add(point[0], float(point[1]))

    def add(self, ts: int, eq: float) -> None:
        """``append((ts, eq))`` without the tuple: the engine samples on every fill."""
        times = self._ts
        try:  # int() only for what is not one already: a builtin call on every fill spared
            times.append(ts)
        except TypeError:
            times.append(int(ts))
        self._eq.append(eq)
        if len(times) > self.cap:
            self._thin()

    def _thin(self) -> None:
        half = (len(self._ts) // 2) // 4 * 4  # the older half, whole groups of four
        ts, eq = array("q"), array("d")
        for start in range(0, half, 4):
            group = range(start, start + 4)
            hi = max(group, key=self._eq.__getitem__)
            lo = min(group, key=self._eq.__getitem__)
            for i in sorted({hi, lo}):
                ts.append(self._ts[i])
                eq.append(self._eq[i])
        self.thinned += half - len(ts)
        ts.extend(self._ts[half:])
        eq.extend(self._eq[half:])
        self._ts, self._eq = ts, eq

    def __len__(self) -> int:
        return len(self._ts)

    def __bool__(self) -> bool:
        return bool(self._ts)

    def __iter__(self) -> Iterator[tuple[int, float]]:
        return zip(self._ts, self._eq, strict=True)

    @overload
    def __getitem__(self, i: int) -> tuple[int, float]: ...
    @overload
    def __getitem__(self, i: slice) -> list[tuple[int, float]]: ...
    def __getitem__(self, i: int | slice) -> tuple[int, float] | list[tuple[int, float]]:
        if isinstance(i, slice):
            return list(zip(self._ts[i], self._eq[i], strict=True))
        return self._ts[i], self._eq[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EquityHistory | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EquityHistory({len(self)} points, cap {self.cap}, thinned {self.thinned})"
