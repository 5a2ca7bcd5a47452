"""Fixtures for tests against the local exchange (no test here reaches the internet)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from tapedesk.engine.binance.endpoints import Endpoints, resolve
from tapedesk.engine.binance.rest import DeskClient, make_client

from tests.local_exchange import LocalExchange

KEY = "local-test-key-0123456789abcdef"
SECRET = "local-test-secret-fedcba9876543210-DO-NOT-LEAK"


@pytest.fixture
async def exchange() -> AsyncIterator[LocalExchange]:
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    yield ex
    await ex.stop()


@pytest.fixture
def endpoints(exchange: LocalExchange) -> Endpoints:
    return resolve(rest_url=exchange.rest_url, ws_url=exchange.ws_url)


@pytest.fixture
async def client(endpoints: Endpoints) -> AsyncIterator[DeskClient]:
    c = make_client(endpoints, KEY, SECRET, timeout_s=2.0)
    yield c
    await c.close_connection()


async def wait_until(pred: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``pred`` (no fixed sleeps): fail with ``what`` if it stays false."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what or pred}")
        await asyncio.sleep(0.02)


class RecordingSink:
    """A VenueSink that keeps everything it is told, in order."""

    def __init__(self) -> None:
        self.fills: list = []
        self.updates: list = []
        self.errors: list[str] = []
        self.funding: list = []

    def on_fill(self, fill) -> None:
        self.fills.append(fill)

    def on_order_update(self, update) -> None:
        self.updates.append(update)

    def on_funding(self, symbol, amount, rate, ts) -> None:
        self.funding.append((symbol, amount, rate, ts))

    def on_venue_error(self, text: str) -> None:
        self.errors.append(text)

    def statuses(self, client_id: str) -> list[str]:
        return [u.status.value for u in self.updates if u.client_id == client_id]

    def last(self, client_id: str):
        return next((u for u in reversed(self.updates) if u.client_id == client_id), None)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def venue(endpoints, client, sink):
    from tapedesk.engine.binance.rest import RestGate
    from tapedesk.engine.binance.venue import BinanceVenue, LiveSettings

    gate = RestGate(client)
    v = BinanceVenue(gate, endpoints, ["BTCUSDT"], LiveSettings(
        max_leverage=5, lookup_delay=0.05, flat_poll_s=0.05, backoff_base=0.05,
        backoff_max=0.2))
    v.bind(sink)
    await v.start()
    await wait_until(lambda: v.user_stream.connects >= 1, what="user stream")
    yield v
    await v.close()
