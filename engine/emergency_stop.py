"""The emergency stop: its own procedure over the venue (DESIGN.md).

Halt new entries → cancel every order (regular and conditional) → close every position the
*venue* reports, reduce-only at market → verify with the venue that it is flat with nothing
open; retry with backoff until it is. It talks only to the venue, so it works with the
market-data stream dead. The desk's books follow from the fills the closes produce.
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

from tapedesk.engine.events import ExplanationKind, OrderRole
from tapedesk.engine.orders import Orders

FIRST_DELAY_S = 0.2
MAX_DELAY_S = 5.0
#: The verify waits at most this long for the closes' answers: a live close goes out only
#: after its write-ahead commit, so read at once the exchange would not have it yet.
ANSWER_WAIT_S = 2.0


class Desk(Protocol):
    """What the procedure needs from the engine."""

    venue: Any
    orders: Orders

    def explain(self, kind: ExplanationKind, text: str) -> None: ...

    async def commit(self) -> None: ...

    def set_halted(self) -> None: ...

    @property
    def stopping(self) -> bool: ...


async def emergency_stop(desk: Desk) -> bool:
    """Run the procedure; True once the venue verified flat (False only if the desk stops)."""
    import asyncio

    desk.set_halted()
    desk.orders.halt()
    desk.explain(ExplanationKind.DESK, "EMERGENCY STOP: new entries halted.")
    venue = desk.venue
    delay = FIRST_DELAY_S
    # Cancel and close first, commit after: the halt is already in force in memory, and
    # the cancels reach the exchange before the disk hears of them (bench/ui_throughput.py);
    # a close goes out once the commit holds its intent (write-ahead, one fsync).
    for attempt in itertools.count(1):
        try:
            working = len(desk.orders.open)
            await venue.cancel_all()
            desk.explain(ExplanationKind.DESK,
                         f"Step 1/3 cancel: {working} open order(s) cancelled (regular and "
                         "conditional).")
            positions = await venue.fetch_positions()
            for pos in positions.values():
                # A close still working (sent, unanswered: write-ahead, a slow exchange) is
                # not sent twice; one Binance rejected or expired is gone from the book.
                if not desk.orders.closing(pos.symbol):
                    desk.orders.close(pos, OrderRole.FLATTEN, "emergency stop")
            desk.explain(ExplanationKind.DESK,
                         f"Step 2/3 close: {len(positions)} position(s) sent reduce-only "
                         "market close orders.")
            await desk.commit()
            await asyncio.sleep(0)
            answered = getattr(venue, "answered", None)
            if answered is not None:
                await answered([desk.orders.closing(s) for s in positions], ANSWER_WAIT_S)
            left = await venue.fetch_positions()
            left_orders = await venue.fetch_open_orders()
            if not left and not left_orders:
                desk.orders.halted_flat()
                desk.explain(ExplanationKind.DESK,
                             "Step 3/3 verify: the venue reports FLAT with no open orders. "
                             "Desk stays HALTED until you resume.")
                await desk.commit()
                return True
            desk.explain(ExplanationKind.ERROR,
                         f"Verify attempt {attempt}: venue still shows {len(left)} position(s) "
                         f"and {len(left_orders)} order(s); retrying.")
        except Exception as exc:  # the venue may be down: keep trying, say why
            desk.explain(ExplanationKind.ERROR,
                         f"Emergency stop attempt {attempt} failed: {exc}; retrying in "
                         f"{delay:.1f} s.")
        await desk.commit()
        if desk.stopping and attempt >= 3:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)
    return False  # pragma: no cover - the loop only ends by returning
