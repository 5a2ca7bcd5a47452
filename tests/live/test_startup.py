"""engine.binance.startup against the local exchange: read-only checks, then set-up that is
undone when it fails half-way, and a venue whose start() opens one user stream however often
it is called."""

from __future__ import annotations

import pytest
from tapedesk.engine.binance.rest import RestGate, make_client
from tapedesk.engine.binance.startup import LiveAborted, apply_account_setup, check_account
from tapedesk.engine.binance.venue import BinanceVenue, LiveSettings

from tests.live.conftest import KEY, wait_until


def sent(exchange) -> list[str]:
    return [f"{m} {p}" for m, p, _ in exchange.requests if m != "GET"]


async def test_checks_are_read_only_and_describe_the_account(exchange, endpoints, client):
    check = await check_account(RestGate(client), endpoints, ["btcusdt", "ETHUSDT"], 5, "k…")
    assert sent(exchange) == []
    assert set(check.specs) == {"BTCUSDT", "ETHUSDT"}
    st = check.states["BTCUSDT"]
    assert (st.margin_type, st.leverage, st.target_leverage) == ("CROSSED", 20, 5)
    assert any("will set ISOLATED margin" in line for line in check.summary())


async def test_bad_keys_are_one_line_and_nothing_sent(exchange, endpoints):
    client = make_client(endpoints, KEY, "not-the-secret", timeout_s=2.0)
    try:
        with pytest.raises(LiveAborted) as err:
            await check_account(RestGate(client), endpoints, ["BTCUSDT"], 5)
    finally:
        await client.close_connection()
    text = str(err.value)
    assert "\n" not in text and "nothing was sent" in text and "Binance -" in text
    assert sent(exchange) == []


async def test_unlisted_symbol_refused(exchange, endpoints, client):
    with pytest.raises(LiveAborted, match="DOGEUSDT is not listed"):
        await check_account(RestGate(client), endpoints, ["DOGEUSDT"], 5)


async def test_failed_leverage_undoes_the_margin_change(exchange, endpoints, client):
    gate = RestGate(client)
    check = await check_account(gate, endpoints, ["BTCUSDT"], 5)
    exchange.inject(path="/fapi/v1/leverage", method="POST", status=400, code=-4028,
                    msg="Leverage 5 is not valid")
    with pytest.raises(LiveAborted) as err:
        await apply_account_setup(gate, check)
    text = str(err.value)
    assert "the account is as it was found" in text
    assert "undone: BTCUSDT margin CROSSED → ISOLATED" in text
    assert exchange.account.positions["BTCUSDT"].margin_type == "CROSSED"
    assert sent(exchange) == ["POST /fapi/v1/marginType", "POST /fapi/v1/leverage",
                              "POST /fapi/v1/marginType"]


async def test_what_could_not_be_undone_is_named(exchange, endpoints, client):
    gate = RestGate(client)
    check = await check_account(gate, endpoints, ["BTCUSDT"], 5)
    exchange.inject(path="/fapi/v1/leverage", method="POST", status=400, code=-4028,
                    msg="Leverage 5 is not valid")
    # the first marginType call succeeds; the undo (the second call) fails
    original = exchange.account.set_margin_type
    calls = {"n": 0}

    def flaky(symbol, margin_type):
        calls["n"] += 1
        if calls["n"] == 2:
            from tests.local_exchange.state import ApiError

            raise ApiError(-1001, "Internal error; unable to process your request.")
        return original(symbol, margin_type)

    exchange.account.set_margin_type = flaky
    with pytest.raises(LiveAborted) as err:
        await apply_account_setup(gate, check)
    assert "still changed on the account: BTCUSDT margin CROSSED → ISOLATED" in str(err.value)
    assert exchange.account.positions["BTCUSDT"].margin_type == "ISOLATED"


async def test_multi_assets_switched_on_after_the_check_is_one_line(exchange, endpoints, client):
    gate = RestGate(client)
    check = await check_account(gate, endpoints, ["BTCUSDT"], 5)
    exchange.account.multi_assets = True
    with pytest.raises(LiveAborted) as err:
        await apply_account_setup(gate, check)
    assert "Multi-Assets" in str(err.value) and "as it was found" in str(err.value)


async def test_venue_start_twice_opens_one_user_stream(exchange, endpoints, client):
    venue = BinanceVenue(RestGate(client), endpoints, ["BTCUSDT"], LiveSettings(max_leverage=3))
    try:
        await venue.start()
        await venue.start()
        await wait_until(lambda: venue.user_stream.connects >= 1, what="user stream")
        assert exchange.count("POST", "/fapi/v1/listenKey") == 1
        assert sum(1 for s in exchange.socks if s.kind == "private") == 1
        assert venue.leverage["BTCUSDT"] == 3
        assert exchange.account.positions["BTCUSDT"].leverage == 3
    finally:
        await venue.close()
