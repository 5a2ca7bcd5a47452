"""The exchange's own stopwatch for "no position without a stop": it records every stretch of
time during which some open quantity had no exchange-side stop covering it, so a test can
assert the longest stretch stays under the desk's grace period — from the exchange's side,
whatever the desk believes.

A position is covered by open STOP_MARKET algo orders on the closing side: one with
``closePosition=true`` covers all of it, reduce-only ones cover their quantity. Targets
(TAKE_PROFIT_MARKET) are counted the same way, for "stop and target cover the whole position".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def covered(position_amt: Decimal, algos: list[Any], kind: str) -> Decimal:
    """How much of ``position_amt`` (signed) open ``kind`` algo orders would close."""
    if not position_amt:
        return Decimal(0)
    closing_side = "SELL" if position_amt > 0 else "BUY"
    total = Decimal(0)
    for a in algos:
        if a.type != kind or a.side != closing_side or not a.is_open:
            continue
        if a.close_position:
            return abs(position_amt)
        if a.reduce_only:
            total += a.qty
    return min(total, abs(position_amt))


@dataclass
class Gap:
    symbol: str
    start: float  # time.monotonic()
    end: float | None = None
    worst_uncovered: Decimal = Decimal(0)

    def length(self, now: float | None = None) -> float:
        return (self.end if self.end is not None else (now or time.monotonic())) - self.start


@dataclass
class ProtectionMonitor:
    gaps: list[Gap] = field(default_factory=list)
    _open: dict[str, Gap] = field(default_factory=dict)

    def check(self, positions: dict[str, Any], algos: list[Any]) -> None:
        now = time.monotonic()
        for symbol, pos in positions.items():
            uncovered = abs(pos.amount) - covered(pos.amount, [a for a in algos
                                                               if a.symbol == symbol],
                                                  "STOP_MARKET")
            gap = self._open.get(symbol)
            if uncovered > 0:
                if gap is None:
                    gap = self._open[symbol] = Gap(symbol, now)
                    self.gaps.append(gap)
                gap.worst_uncovered = max(gap.worst_uncovered, uncovered)
            elif gap is not None:
                gap.end = now
                del self._open[symbol]

    def longest(self) -> float:
        """Seconds of the longest stretch with some quantity unprotected (open ones count)."""
        now = time.monotonic()
        return max((g.length(now) for g in self.gaps), default=0.0)

    def unprotected_now(self) -> list[str]:
        return sorted(self._open)
