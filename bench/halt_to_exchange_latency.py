"""The emergency stop to the exchange: from ``Engine.emergency_stop()`` (what ctrl+x and
``tapedesk halt`` call) to the exchange receiving the cancel and the reduce-only close, with
a live engine, BinanceVenue, python-binance and a real SQLite journal. Prints p50/p99;
asserts nothing.

    PYTHONPATH=. python bench/halt_to_exchange_latency.py [--n 60] [--dir DIR] [--no-wal | --locked]

Each round opens a small long with a MARKET entry, waits until it is booked, then calls the
emergency stop and reads the exchange's arrival stamps (``Request.at``, same clock and event
loop). The close goes out after its write-ahead commit (one fsync), the cancel does not wait;
``--no-wal`` replaces the venue's wait for that commit with nothing (the figure before
write-ahead, for comparison; the bench's own patch, not a desk setting); ``--locked``: another
connection holds the journal's write lock during each stop (the close waits its 0.5 s cap).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from tapedesk.engine.binance.endpoints import resolve
from tapedesk.engine.binance.rest import RestGate, make_client
from tapedesk.engine.binance.venue import BinanceVenue, LiveSettings
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import OrderRole, OrderType
from tapedesk.engine.journal import Journal

from bench.live_send_latency import KEY, SECRET, _filesystem
from tests.local_exchange import LocalExchange


def _pct(ms: list[float], q: float) -> float:
    ms = sorted(ms)
    return ms[min(len(ms) - 1, int(len(ms) * q))]


async def _sent_at_once(_tr: object) -> bool:
    return True


async def main(n: int, folder: Path, no_wal: bool, locked: bool) -> None:
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, order_limit_10s=100_000,
                       order_limit_1m=100_000)
    ex.behaviour.market_split = []
    await ex.start()
    await ex.set_price("BTCUSDT", "60000")
    ep = resolve(rest_url=ex.rest_url, ws_url=ex.ws_url)
    client = make_client(ep, KEY, SECRET, timeout_s=5)
    venue = BinanceVenue(RestGate(client), ep, ["BTCUSDT"], LiveSettings(max_leverage=5))
    eng = Engine(config=DeskConfig(), venue=venue, strategies=[],
                 journal=Journal(folder / "live.db"), mode="live")
    await eng.start()
    if no_wal:
        venue.book.written_ahead = _sent_at_once  # type: ignore[method-assign]
    to_cancel: list[float] = []
    to_close: list[float] = []
    try:
        for k in range(n + 5):
            entry = eng.orders.intent("BTCUSDT", "BUY", OrderType.MARKET, Decimal("0.002"),
                                      OrderRole.ENTRY)
            eng.orders.submit(entry)
            while "BTCUSDT" not in eng.book.positions:
                await asyncio.sleep(0.001)
            await eng.commit()
            mark = len(ex.requests)
            held = sqlite3.connect(folder / "live.db", isolation_level=None) if locked else None
            if held is not None:
                held.execute("BEGIN IMMEDIATE")
                asyncio.get_running_loop().call_later(1.0, held.rollback)
            t0 = time.monotonic()
            assert await eng.emergency_stop()
            if held is not None:
                await asyncio.sleep(1.0)
                held.close()
            after = list(ex.requests)[mark:]
            cancel = next(r for r in after if r.method == "DELETE")
            close = next(r for r in after if r.method == "POST" and r.reduces)
            if k >= 5:  # warm-up rounds
                to_cancel.append((cancel.at - t0) * 1000)
                to_close.append((close.at - t0) * 1000)
            await eng.resume_from_halt()
    finally:
        await eng.stop()
        await client.close_connection()
        await ex.stop()
    how = ("off" if no_wal else "on") + (", journal locked" if locked else "")
    print(f"emergency_stop() -> exchange, {len(to_close)} rounds, journal on "
          f"{_filesystem(folder)}, write-ahead {how}:")
    for what, ms in (("first cancel", to_cancel), ("reduce-only close", to_close)):
        print(f"  {what}: p50 {statistics.median(ms):.2f} ms, p99 {_pct(ms, 0.99):.2f} ms, "
              f"max {max(ms):.2f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--no-wal", action="store_true")
    ap.add_argument("--locked", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        os.environ.setdefault("TAPEDESK_HOME", tmp)
        asyncio.run(main(args.n, Path(tmp), args.no_wal, args.locked))
