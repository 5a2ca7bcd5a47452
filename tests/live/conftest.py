"""Fixtures for tests against the local exchange (no test here reaches the internet)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from engine.binance.endpoints import Endpoints, resolve
from engine.binance.rest import DeskClient, make_client
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
