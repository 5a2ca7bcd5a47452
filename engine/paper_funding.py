"""Funding on the paper venue's books: who pays whom at each symbol's funding times.

Kept apart from fills and triggers: funding moves money on a clock (engine/funding_schedule.py
says when), never because of a price crossing a level.
"""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.events import Position
from tapedesk.engine.funding_schedule import GRID_MS, FundingSchedule
from tapedesk.engine.positions import PositionBook
from tapedesk.engine.venue import VenueSink

_CENT_MILLIONTH = Decimal("0.00000001")


class PaperFunding:
    """Funding settlement of ``PaperVenue`` (a mixin: it moves the venue's own balance)."""

    balance: Decimal
    funding_paid: Decimal
    assumed_funding: Decimal
    book: PositionBook
    last_price: dict[str, float]
    _schedule: FundingSchedule
    _next_funding: int
    _sink: VenueSink | None

    def _funding(self, ts: int) -> None:
        """Settle every funding time reached since the last event (gaps included), each
        symbol by its own schedule (engine/funding_schedule.py).

        Nothing trades inside a gap, so every time crossed is owed at the same rate and price
        by the same position: up to three times settle one by one (one journal row each, as
        Binance would), more settle as ONE payment dated at the last of them. A gap of a
        century costs one row and O(1) time, not 100,000.
        """
        schedule = self._schedule
        positions = self.book.positions
        for sym, due, n, step in schedule.crossed(ts):
            pos = positions.get(sym)
            if pos is not None:
                px = schedule.mark.get(sym) or self.last_price.get(sym)
                self._settle_times(pos, due, n, step, schedule.rate.get(sym, 0.0), px)
        due, n = schedule.grid(ts)
        if n:
            for pos in list(positions.values()):
                sym = pos.symbol
                if sym in schedule.announced or schedule.passed.get(sym, 0) >= due:
                    continue
                schedule.passed[sym] = due + (n - 1) * GRID_MS
                self._settle_times(pos, due, n, GRID_MS, None, self.last_price.get(sym))
        self._next_funding = schedule.next_time()

    def _settle_times(self, pos: Position, due: int, n: int, step: int, rate: float | None,
                      px: float | None) -> None:
        if n <= 3:
            for k in range(n):
                self._settle_funding(pos, due + k * step, rate, px)
        else:
            self._settle_funding(pos, due + (n - 1) * step, rate, px, n)

    def _settle_funding(self, pos: Position, due: int, mark_rate: float | None,
                        px: float | None, marks: int = 1) -> None:
        """``mark_rate`` None: the assumed rate (a symbol without mark events)."""
        rate = self.assumed_funding if mark_rate is None else Decimal(str(mark_rate))
        if not rate:
            return
        price = Decimal(str(px)) if px else pos.entry_price
        # Positive rate: longs pay shorts. Binance values it at the mark price.
        amount = (-pos.side.sign * pos.qty * price * rate).quantize(_CENT_MILLIONTH)
        amount *= marks  # each time rounds on its own, as the one-by-one settlement would
        self.balance += amount
        self.funding_paid -= amount
        pos.funding += amount
        if self._sink is not None:
            self._sink.on_funding(pos.symbol, amount, float(rate), due)
