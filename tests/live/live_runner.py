"""A minimal live session in its own process, for the kill -9 test.

It opens a long on the (local) exchange with its stop-loss and take-profit, writing every
intent, order update and fill to a JSON-lines journal (fsync'd before going on, as the engine
journal commits before telling anyone), prints READY, and waits to be killed. Keys come from
the environment, never from a file.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal

from tapedesk.engine.binance.endpoints import resolve
from tapedesk.engine.binance.rest import RestGate, make_client
from tapedesk.engine.binance.venue import BinanceVenue, client_order_id
from tapedesk.engine.events import OrderIntent, OrderRole, OrderType


class JournalSink:
    def __init__(self, path: str) -> None:
        self.f = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self.statuses: dict[str, str] = {}

    def write(self, kind: str, **data: object) -> None:
        self.f.write(json.dumps({"kind": kind, **data}, default=str) + "\n")
        self.f.flush()
        os.fsync(self.f.fileno())

    def on_fill(self, fill) -> None:
        self.write("fill", client_id=fill.client_id, symbol=fill.symbol, side=fill.side,
                   qty=fill.qty, price=fill.price, fee=fill.fee, ts=fill.ts,
                   role=fill.role, seq=fill.seq, trade_id=fill.trade_id)

    def on_order_update(self, u) -> None:
        self.statuses[u.client_id] = u.status.value
        self.write("update", client_id=u.client_id, status=u.status.value, reason=u.reason)

    def on_funding(self, *a) -> None:
        pass

    def on_venue_error(self, text: str) -> None:
        self.write("error", text=text)


async def main(rest: str, ws: str, journal: str) -> None:
    ep = resolve(rest_url=rest, ws_url=ws)
    client = make_client(ep, os.environ["TD_TEST_KEY"], os.environ["TD_TEST_SECRET"])
    venue = BinanceVenue(RestGate(client), ep, ["BTCUSDT"])
    sink = JournalSink(journal)
    venue.bind(sink)
    await venue.start()
    intents = [
        OrderIntent(client_order_id("k9", OrderRole.ENTRY), "BTCUSDT", "BUY", OrderType.MARKET,
                    Decimal("0.003"), OrderRole.ENTRY, 0),
        OrderIntent(client_order_id("k9", OrderRole.STOP), "BTCUSDT", "SELL",
                    OrderType.STOP_MARKET, Decimal("0.003"), OrderRole.STOP, 0,
                    stop_price=Decimal("59850"), reduce_only=True),
        OrderIntent(client_order_id("k9", OrderRole.TAKE_PROFIT), "BTCUSDT", "SELL",
                    OrderType.TAKE_PROFIT_MARKET, Decimal("0.003"), OrderRole.TAKE_PROFIT, 0,
                    stop_price=Decimal("60300"), reduce_only=True),
    ]
    for it in intents:
        sink.write("intent", client_id=it.client_id, symbol=it.symbol, side=it.side,
                   type=it.type.value, qty=it.qty, role=it.role.value, price=it.price,
                   stop_price=it.stop_price, reduce_only=it.reduce_only)
        venue.submit(it)
        for _ in range(500):
            want = "FILLED" if it.role is OrderRole.ENTRY else "NEW"
            if sink.statuses.get(it.client_id) == want:
                break
            await asyncio.sleep(0.01)
    print("READY", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
