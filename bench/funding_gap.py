"""Funding over a long gap in the data: time and journal rows for one position held across it.

Issue 9: one bar dated 2100 in a 41-bar file took 14 s and wrote 85,468 funding rows, because
the paper venue settled every 8-hour mark of the gap one by one. It now settles a gap longer
than a day as one payment for all the marks crossed (the same amount, to the cent).

    python bench/funding_gap.py [--years 76]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tapedesk.engine.events import Bar, OrderIntent, OrderRole, OrderType
from tapedesk.engine.paper_venue import PaperVenue

T0 = 1_704_067_200_000
MIN = 60_000


class CountingSink:
    """Counts what the venue would hand the engine (each funding call = one journal row)."""

    def __init__(self) -> None:
        self.funding_rows = 0

    def on_funding(self, *_args: Any) -> None:
        self.funding_rows += 1

    def __getattr__(self, _name: str) -> Any:
        return lambda *a, **k: None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--years", type=float, default=76.0, help="length of the gap")
    args = ap.parse_args()
    venue = PaperVenue(Decimal(10_000), slippage_bps=0.0, latency_ms=0, fill_at="close",
                       assumed_funding_bps_8h=1.0)
    sink = CountingSink()
    venue.bind(sink)  # type: ignore[arg-type]
    venue.on_market(Bar("ETHUSDT", T0, T0 + MIN - 1, 100, 100, 100, 100, 1))
    venue.set_leverage("ETHUSDT", 1)
    venue.submit(OrderIntent("e1", "ETHUSDT", "BUY", OrderType.MARKET, Decimal(1),
                             OrderRole.ENTRY, T0 + MIN - 1))
    gap = int(args.years * 365 * 86_400_000)
    started = time.perf_counter()
    venue.on_market(Bar("ETHUSDT", T0 + gap, T0 + gap + MIN - 1, 100, 100, 100, 100, 1))
    elapsed = time.perf_counter() - started
    marks = gap // (8 * 3_600_000)
    print(f"gap {args.years:g} years (~{marks:,} funding marks), 1 ETH long at 100, 1 bp / 8 h")
    print(f"  settle time   {elapsed * 1000:.2f} ms")
    print(f"  funding rows  {sink.funding_rows:,}")
    print(f"  funding paid  {venue.funding_paid} USDT (balance {venue.balance})")


if __name__ == "__main__":
    main()
