"""When the paper venue settles funding: each symbol's own funding times.

Binance USDT-M symbols fund every 8 h, 4 h or 1 h, and a symbol's interval can change. The
markPrice stream announces each symbol's next funding time (``MarkPrice.next_funding_ts``),
and downloaded funding history emits one such announcement before every real funding time
(tapedesk.engine.market_data.funding). So, one rule:

- A symbol with mark events is settled at each time they announce, once, at the last rate
  announced before that time, valued at the last mark price.
- After a time is settled the next one is not known until the next announcement; until then
  the symbol's interval is assumed unchanged (inferred as the distance from the last settled
  time to the next announced one; 8 h before two times are known). A gap with no events (a
  desk down across several funding times: the stream re-announces only the next time) is
  charged at every inferred time crossed, at the last known rate and mark, as the 8-hour grid
  does. Where the interval *lengthened* inside such a stretch (4 h -> 8 h), the time the old
  interval predicted is charged once although Binance skipped it. The live stream and the
  downloaded history (market_data/funding.py) both announce the next time right after each
  funding, so this needs a real outage, or, in history, a lengthening exactly at a month
  boundary (the next month's times are not loaded yet).
- A symbol with no mark events (bars/quotes/trades only: the assumed-funding backtest path,
  ``--funding-bps``) is settled on the fixed 8-hour grid (00:00, 08:00, 16:00 UTC) at the
  assumed rate on the last price.

A time is never settled twice for a symbol (``passed``), whichever rule reached it first.
"""

from __future__ import annotations

from typing import Any

GRID_MS = 8 * 3_600_000


class FundingSchedule:
    """Per-symbol funding times; ``next_time()`` is the earliest moment anything falls due, so
    the venue's hot path is one integer compare per event."""

    __slots__ = ("announced", "due", "grid_next", "mark", "passed", "rate", "step")

    def __init__(self) -> None:
        self.grid_next = 0  # next 8-hour mark for symbols without mark events
        self.due: dict[str, int] = {}  # next funding time (announced, or inferred)
        self.step: dict[str, int] = {}  # the symbol's interval as inferred
        self.announced: dict[str, int] = {}  # the last time an event announced
        self.passed: dict[str, int] = {}  # the last funding time settled (or passed while flat)
        self.rate: dict[str, float] = {}  # the rate announced for the next funding time
        self.mark: dict[str, float] = {}

    def next_time(self) -> int:
        return min(self.grid_next, *self.due.values()) if self.due else self.grid_next

    def announce(self, sym: str, ts: int, mark: float, rate: float, next_ts: int) -> int:
        """Record a mark event; returns the symbol's next funding time."""
        self.rate[sym] = rate
        self.mark[sym] = mark
        if next_ts <= 0:  # an event that does not say when: assume the 8-hour grid
            next_ts = (ts // GRID_MS + 1) * GRID_MS
        if self.announced.get(sym) != next_ts:
            self.announced[sym] = next_ts
            passed = self.passed.get(sym, 0)
            if next_ts > passed:
                if passed:
                    self.step[sym] = next_ts - passed
                self.due[sym] = next_ts
        return self.due.get(sym, next_ts)

    def crossed(self, ts: int) -> list[tuple[str, int, int, int]]:
        """Mark-announced symbols whose funding times ``ts`` has reached: (symbol, first time,
        how many, interval); the schedule moves past them (settled or not)."""
        out = []
        for sym, due in self.due.items():
            if due > ts:
                continue
            step = self.step.get(sym, GRID_MS)
            n = (ts - due) // step + 1
            self.passed[sym] = due + (n - 1) * step
            out.append((sym, due, n, step))
        for sym, due, n, step in out:
            self.due[sym] = due + n * step
        return out

    def grid(self, ts: int) -> tuple[int, int]:
        """(first 8-hour mark reached, how many): 0 marks when none is due, or on the first
        event (which only sets the clock)."""
        due = self.grid_next
        self.grid_next = (ts // GRID_MS + 1) * GRID_MS
        if not due or due > ts:
            return due, 0
        return due, (ts - due) // GRID_MS + 1

    # -- persistence ---------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {k: dict(getattr(self, k)) for k in
                ("due", "step", "announced", "passed", "rate", "mark")}

    def load_state(self, grid_next: int, state: dict[str, Any] | None) -> None:
        """``state`` is None for a checkpoint written before per-symbol times existed: mark
        symbols then resume at their next announcement."""
        self.grid_next = grid_next
        state = state or {}
        for k in ("due", "step", "announced", "passed"):
            setattr(self, k, {s: int(v) for s, v in state.get(k, {}).items()})
        for k in ("rate", "mark"):
            setattr(self, k, {s: float(v) for s, v in state.get(k, {}).items()})
