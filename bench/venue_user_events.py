"""What one user-stream fill costs the live venue: parse, match, dedupe, report; printed.

    PYTHONPATH=. python3 bench/venue_user_events.py [--n 50000]   (uses tests/live fakes)

Each order fills in five trades (ORDER_TRADE_UPDATE x=TRADE), then every message is replayed
once (as after a reconnect): the replays must cost little and report nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from decimal import Decimal

from tapedesk.engine.binance.orders import Tracked
from tapedesk.engine.events import OrderIntent, OrderRole, OrderType

from tests.live.venue_fakes import make_venue, order_update


async def main(n: int) -> None:
    venue, _, sink = make_venue()
    orders = n // 5
    msgs = []
    for k in range(orders):
        cid = f"td-b{k}-e"
        venue.book.orders[cid] = Tracked(OrderIntent(
            cid, "BTCUSDT", "BUY", OrderType.MARKET, Decimal("0.005"), OrderRole.ENTRY, 0),
            algo=False)
        for j in range(5):
            last = j == 4
            msgs.append(order_update(cid, 10_000 + k, "TRADE",
                                     "FILLED" if last else "PARTIALLY_FILLED",
                                     z=f"0.00{j + 1}", l="0.001", L="60000.1", n="0.03",
                                     t=k * 5 + j + 1))
    t = time.perf_counter()
    for m in msgs:
        venue._on_user_message(m)
    first = time.perf_counter() - t
    t = time.perf_counter()
    for m in msgs:
        venue._on_user_message(m)
    replay = time.perf_counter() - t
    await venue.close()
    print(f"{len(msgs):,} fill messages: {len(msgs) / first:,.0f}/s "
          f"({first / len(msgs) * 1e6:.1f} µs each), fills reported {len(sink.fills):,}")
    print(f"replayed: {len(msgs) / replay:,.0f}/s ({replay / len(msgs) * 1e6:.1f} µs each), "
          f"fills reported after replay {len(sink.fills):,}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000)
    asyncio.run(main(ap.parse_args().n))
