"""The day book: today's risk counters, the day lock and the roll at the configured UTC hour.

One owner for the numbers the daily rules read (DESIGN.md "Risk"): the engine tells it what
happened (a trade opened, a fill realised money, a trade closed) and asks it whether the day
rolled or locked. It never talks to the venue. Its record is written by the journal with the
same batch as the fill that changed it, so a restart never resets a counter.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tapedesk.engine.clock import DAY_MS, day_key, day_start
from tapedesk.engine.config import RiskConfig
from tapedesk.engine.journal import Record, day_record
from tapedesk.engine.metrics import is_loss
from tapedesk.engine.risk import DayCounters, day_lock_reason


class DayBook:
    """Counters for the current risk day; ``next_roll`` is read on the hot path."""

    __slots__ = ("cfg", "counters", "next_roll", "roll_hour")

    def __init__(self, cfg: RiskConfig) -> None:
        self.cfg = cfg
        self.roll_hour = cfg.day_roll_hour_utc
        self.counters = DayCounters(day="")
        self.next_roll = 0

    def roll(self, ts: int) -> bool:
        """Move to the day ``ts`` falls in; True when that is a new day (counters reset)."""
        key = day_key(ts, self.roll_hour)
        self.next_roll = day_start(ts, self.roll_hour) + DAY_MS
        if key == self.counters.day:
            return False
        self.counters = DayCounters(day=key)
        return True

    def load(self, ts: int, row: tuple[Any, ...] | None) -> None:
        """At start: today's counters from the journal's row (never from zero if there is one)."""
        key = day_key(ts, self.roll_hour)
        self.next_roll = day_start(ts, self.roll_hour) + DAY_MS
        if row:
            self.counters = DayCounters(
                key, row[0], row[1], Decimal(row[2]), Decimal(row[3]), bool(row[4]), row[5]
            )
        else:
            self.counters = DayCounters(key)

    def next_reset(self, now: int) -> int:
        return day_start(now, self.roll_hour) + DAY_MS if now else 0

    def realized(self, amount: Decimal, fee: Decimal = Decimal(0)) -> None:
        """Money that reached the wallet today: gross P&L minus ``fee``, or funding."""
        d = self.counters
        d.realized_pnl += amount - fee
        d.fees += fee

    def trade_opened(self) -> None:
        self.counters.trades += 1

    def trade_closed(self, pnl: Decimal) -> None:
        if is_loss(pnl):  # the one break-even rule: pnl == 0 is not a loss
            self.counters.losses += 1

    def lock_if_reached(self) -> str:
        """Lock the day when a daily rule is reached; the reason if it locked *now*."""
        d = self.counters
        if d.locked:
            return ""
        why = day_lock_reason(d, self.cfg)
        if why:
            d.locked, d.lock_reason = True, why
        return why

    def record(self) -> Record:
        d = self.counters
        return day_record(d.day, d.trades, d.losses, d.realized_pnl, d.fees, d.locked,
                          d.lock_reason)
