"""Signing, clock drift and rate limits, against the local exchange's real checks."""

from __future__ import annotations

import pytest
from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.binance.rest import RestGate, make_client

from tests.live.conftest import KEY


class RecordedSleep:
    """Stands in for asyncio.sleep: records how long the gate chose to wait, and lets the
    exchange's minute window roll over (the test need not wait a real minute)."""

    def __init__(self, exchange=None) -> None:
        self.waits: list[float] = []
        self.exchange = exchange

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.exchange is not None:
            self.exchange._weight_window = (0, 0)


async def test_signed_requests_pass_the_exchange_signature_check(client):
    gate = RestGate(client)
    await gate.sync_time()
    assert (await gate.call("futures_account"))["canTrade"] is True


async def test_wrong_secret_is_explained(endpoints):
    c = make_client(endpoints, KEY, "not-the-secret-00000000000000", timeout_s=2)
    try:
        with pytest.raises(VenueError) as err:
            await RestGate(c).call("futures_account")
        assert err.value.code == -1022 and "secret" in err.value.text
    finally:
        await c.close_connection()


async def test_timestamp_error_resyncs_the_clock_and_retries_once(exchange, client):
    gate = RestGate(client)
    await gate.sync_time()
    exchange.clock_skew_ms = -3000  # the server's clock now runs 3 s behind ours
    before = exchange.count("GET", "/fapi/v1/time")
    assert (await gate.call("futures_account"))["canTrade"] is True
    assert exchange.count("GET", "/fapi/v1/time") == before + 1
    assert exchange.count("GET", "/fapi/v2/account") == 2  # the -1021 one and the retry
    assert -3200 < client.timestamp_offset < -2800


async def test_persistent_timestamp_error_surfaces_after_one_retry(exchange, client):
    gate = RestGate(client)
    exchange.inject(path="/fapi/v2/account", status=400, code=-1021, times=5)
    with pytest.raises(VenueError) as err:
        await gate.call("futures_account")
    assert err.value.code == -1021 and "clock" in err.value.text
    assert exchange.count("GET", "/fapi/v2/account") == 2


async def test_slows_down_before_the_weight_limit(exchange, client):
    exchange.weight_limit = 60  # 90 % = 54: the gate pauses before the 11th 5-weight call
    sleep = RecordedSleep(exchange)
    gate = RestGate(client, sleep=sleep)
    gate.limits.load_from_exchange_info(await gate.call("futures_exchange_info"))
    assert gate.limits.weight_limit == 60
    for _ in range(25):
        await gate.call("futures_account", weight=5)
    assert sleep.waits and all(0 < w <= 60.1 for w in sleep.waits)
    assert exchange.violations == 0  # never a 429
    assert gate.limits.weight_used <= 54


async def test_429_backs_off_for_retry_after_then_retries(exchange, client):
    sleep = RecordedSleep()
    gate = RestGate(client, sleep=sleep)
    exchange.inject(path="/fapi/v2/account", status=429, retry_after=7)
    assert (await gate.call("futures_account"))["canTrade"] is True
    assert sleep.waits and 6.0 <= sleep.waits[0] <= 7.0


async def test_never_sends_into_a_418_ban(exchange, client):
    gate = RestGate(client, sleep=RecordedSleep())
    exchange.inject(path="/fapi/v2/account", status=418, retry_after=300)
    with pytest.raises(VenueError) as err:
        await gate.call("futures_account")
    assert err.value.status == 418
    sent = len(exchange.requests)
    with pytest.raises(VenueError) as err:
        await gate.call("futures_position_information")
    assert "banned" in err.value.text and err.value.retry_after > 290
    assert len(exchange.requests) == sent  # refused locally: nothing went out


async def test_weight_header_is_tracked_for_the_status_header(exchange, client):
    gate = RestGate(client)
    await gate.call("futures_account", weight=5)
    await gate.call("futures_position_information", weight=5)
    assert gate.limits.weight_used == 10


async def test_order_count_headers_are_tracked(exchange, client):
    gate = RestGate(client)
    await gate.call("futures_change_leverage", symbol="BTCUSDT", leverage=5)
    await gate.call("futures_create_order", order=True, symbol="BTCUSDT", side="BUY",
                    type="MARKET", quantity="0.002")
    assert gate.limits.orders_10s == 1 and gate.limits.orders_1m == 1


async def test_server_errors_and_timeouts_are_unknown_outcomes(exchange, client):
    gate = RestGate(client)
    exchange.inject(path="/fapi/v3/balance", status=503)
    with pytest.raises(VenueError) as err:
        await gate.call("futures_account_balance")
    assert err.value.unknown_outcome and err.value.status == 503
    exchange.inject(path="/fapi/v3/balance", delay=3.0)  # client timeout is 2 s
    with pytest.raises(VenueError) as err:
        await gate.call("futures_account_balance")
    assert err.value.unknown_outcome and "no answer" in err.value.text
