"""A live order's send path: from the order owner's ``submit`` to the exchange receiving the
POST. Prints p50/p99; asserts nothing.

    PYTHONPATH=. python bench/live_send_latency.py [--n 300] [--dir DIR]

A real live ``Engine`` (BinanceVenue, python-binance's client, a real SQLite journal in
``--dir``, default a temporary folder) against the local exchange in this same process and
event loop, so the exchange's arrival stamp (``Request.at``) and the submit stamp read the
same clock. Each round sends a far-away LIMIT entry (it never fills), waits for the exchange
to have it, then cancels it and waits for the cancel's report to be journaled: what the
journal writes per order (the intent, its acknowledgement, its cancel, the checkpoint) is
what a desk writes. The journal's write-ahead commit (engine.entry_gate.journaled), when the
venue waits for it, is inside the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
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

from tests.local_exchange import LocalExchange

KEY, SECRET = "bench-key-0123456789abcdef", "bench-secret-fedcba9876543210"


def _filesystem(path: Path) -> str:
    """The mount the journal lives on (tmpfs makes fsync free: say so)."""
    best = ("?", "")
    real = str(path.resolve())
    with open("/proc/mounts") as f:
        for line in f:
            _dev, mnt, fs, *_ = line.split()
            if real.startswith(mnt) and len(mnt) >= len(best[1]):
                best = (fs, mnt)
    return f"{best[0]} at {best[1]}"


async def main(n: int, folder: Path) -> None:
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, order_limit_10s=100_000,
                       order_limit_1m=100_000)  # the bench measures the desk, not rate limits
    await ex.start()
    arrived: dict[str, float] = {}
    got = asyncio.Event()

    def on_order(req) -> None:  # the exchange accepted a POST: stamp its arrival
        if req.client_id:
            arrived[req.client_id] = req.at
            got.set()

    ex.order_hooks.append(on_order)
    ep = resolve(rest_url=ex.rest_url, ws_url=ex.ws_url)
    client = make_client(ep, KEY, SECRET, timeout_s=5)
    venue = BinanceVenue(RestGate(client), ep, ["BTCUSDT"], LiveSettings(max_leverage=5))
    eng = Engine(config=DeskConfig(), venue=venue, strategies=[],
                 journal=Journal(folder / "live.db"), mode="live")
    await eng.start()
    orders = eng.orders
    waits: list[float] = []
    try:
        for k in range(n + 20):
            got.clear()
            intent = orders.intent("BTCUSDT", "BUY", OrderType.LIMIT, Decimal("0.002"),
                                   OrderRole.ENTRY)
            intent = dataclasses.replace(intent, price=Decimal("50000"))
            t0 = time.monotonic()
            orders.submit(intent)
            while intent.client_id not in arrived:
                await asyncio.wait_for(got.wait(), 10)
                got.clear()
            if k >= 20:  # the first ones warm the connection pool and the journal up
                waits.append(arrived[intent.client_id] - t0)
            while intent.client_id not in orders.acked:
                await asyncio.sleep(0.001)
            orders.cancel(intent)
            while intent.client_id in orders.open:
                await asyncio.sleep(0.001)
            await eng.commit()
    finally:
        await eng.stop()
        await client.close_connection()
        await ex.stop()
    ms = sorted(w * 1000 for w in waits)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"submit -> exchange has the POST, {len(ms)} orders, journal on "
          f"{_filesystem(folder)}: p50 {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms, "
          f"max {ms[-1]:.2f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        os.environ.setdefault("TAPEDESK_HOME", tmp)
        asyncio.run(main(args.n, Path(tmp)))
