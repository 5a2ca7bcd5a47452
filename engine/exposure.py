"""Exposure: the bars in which a position existed at any moment, counted at fill time.

Counting on every bar ("is a position open now?") misses a trade that opens and closes
inside one bar (a next-open entry stopped out in the same bar) and costs the hot path a
check per bar. Here the engine reports only the fills that open or close a position, with
the index of the bar they happened in; a *run* of exposure is the bars from the one where
the first position opened through the one where the last closed, both included. A bar is
counted once however many positions touched it (a reversal closes and opens in the same
bar; several symbols overlap), and a position opened at a bar's close counts that bar.

The same bookkeeping, keyed by strategy name, gives each strategy its own exposure.
"""

from __future__ import annotations


class _Run:
    __slots__ = ("last", "since", "total")

    def __init__(self) -> None:
        self.total = 0  # bars of the finished runs
        self.since = 0  # first bar of the run in progress (0: none started since counting)
        self.last = 0  # last bar already counted


class Exposure:
    """Bars in position, overall (key ``""``) and per strategy."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}

    def mark(self, key: str, bar: int, holding: bool) -> None:
        """After a fill in bar ``bar`` (1-based): does ``key`` still hold a position?"""
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = _Run()
        if holding:
            if not run.since:
                # A bar already counted is not counted twice (max() without the builtin call).
                after = run.last + 1
                run.since = after if after > bar else bar
            return
        start = run.since or run.last + 1  # no start: a position restored from a checkpoint
        if bar >= start:
            run.total += bar - start + 1
            run.last = bar
        run.since = 0

    def bars(self, key: str, now: int, holding: bool) -> int:
        """Bars in position up to bar ``now`` (the run still open included when ``holding``)."""
        run = self._runs.get(key)
        if run is None:
            return 0
        total = run.total
        if holding:
            start = run.since or run.last + 1
            if now >= start:
                total += now - start + 1
        return min(total, now)

    def restore(self, bars_in_position: int, now: int) -> None:
        """Continue from a checkpoint: ``bars_in_position`` were counted up to bar ``now``."""
        run = self._runs[""] = _Run()
        run.total, run.last = bars_in_position, now
