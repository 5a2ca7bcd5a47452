"""Attacks on going live, through what the user runs: ``tapedesk --live run --headless`` with
the symbol typed on stdin, keys in a real keyring, against the local exchange.

Issue 8, items 1, 4, 7, 8, 10: one event loop from the console script to the last order;
nothing sent before every read-only check passed and the symbol was typed; hedge and
Multi-Assets mode refused before the confirmation; sizing from the account's wallet
including both legs' fees.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal

import pytest

from tests.local_exchange import LocalExchange
from tests.local_exchange.desk import KEY, SECRET, Desk, Heartbeat, desk_keyring, write_config

__all__ = ["desk_keyring"]  # the session fixture, imported for pytest
D = Decimal
pytestmark = pytest.mark.keyring


@pytest.fixture
async def exchange():
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    yield ex
    await ex.stop()


def writes(ex: LocalExchange) -> list[str]:
    return [f"{r.method} {r.path}" for r in ex.requests if r.method != "GET"]


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and "Unclosed client session" not in text, text[-3000:]


async def test_wrong_symbol_typed_sends_nothing(exchange, tmp_path, desk_keyring):
    desk = Desk(tmp_path, write_config(tmp_path, exchange), desk_keyring)
    await desk.start(typed="ETHUSDT")
    code = await desk.exit_code()
    out = desk.output()
    assert code != 0 and "nothing was sent" in out, out
    assert writes(exchange) == []
    no_traceback(out)
    desk.assert_no_secret()


async def test_live_headless_starts_once_and_trades(exchange, tmp_path, desk_keyring):
    desk = Desk(tmp_path, write_config(tmp_path, exchange), desk_keyring)
    await desk.start()
    try:
        await desk.wait_for(lambda: exchange.private_connected() >= 1, 30, "user stream")
        with Heartbeat(exchange):
            await exchange.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: exchange.account.positions["BTCUSDT"].amount > 0, 20,
                                "the entry")
            await desk.wait_for(lambda: len(exchange.account.open_algos()) == 2, 20,
                                "stop and target")
        # one venue start: one listenKey, one user stream, margin type sent once
        assert exchange.count("POST", "/fapi/v1/listenKey") == 1
        assert exchange.private_connected() == 1
        assert exchange.count("POST", "/fapi/v1/marginType") == 1
        assert len(exchange.requests.posts()) == 1  # one entry, nothing else on /order
    finally:
        await desk.stop()
    no_traceback(desk.output())


async def test_multi_assets_mode_is_refused_before_the_confirmation(exchange, tmp_path,
                                                                    desk_keyring):
    exchange.account.multi_assets = True
    desk = Desk(tmp_path, write_config(tmp_path, exchange), desk_keyring)
    await desk.start()
    code = await desk.exit_code()
    out = desk.output()
    assert code != 0
    assert re.search(r"multi.?assets", out, re.IGNORECASE) and "Type BTCUSDT" not in out, out
    assert writes(exchange) == []  # not even a listenKey
    no_traceback(out)


async def test_hedge_mode_is_refused_before_the_confirmation(exchange, tmp_path, desk_keyring):
    exchange.account.dual_side = True
    desk = Desk(tmp_path, write_config(tmp_path, exchange), desk_keyring)
    await desk.start()
    code = await desk.exit_code()
    out = desk.output()
    assert code != 0
    assert re.search(r"hedge mode", out, re.IGNORECASE) and "Type BTCUSDT" not in out, out
    assert writes(exchange) == []
    no_traceback(out)


async def test_wallet_of_1000_risks_three_dollars_including_fees(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, balance="1000")
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount > 0, 20,
                                "the entry")
            await desk.wait_for(lambda: any(a.type == "STOP_MARKET"
                                            for a in ex.account.open_algos()), 20, "the stop")
        pos = ex.account.positions["BTCUSDT"]
        stop = next(a for a in ex.account.open_algos() if a.type == "STOP_MARKET")
        taker = ex.account.taker_rate
        qty, entry, trigger = pos.amount, pos.entry, stop.trigger_price
        loss = qty * (entry - trigger) + qty * entry * taker + qty * trigger * taker
        # 0.3 % of the 1,000 USDT wallet, fees of both legs included; one quantity step
        # (0.001 BTC) less may be lost to rounding down, and slippage may be reserved on top
        assert D("2.40") <= loss <= D("3.00"), (qty, entry, trigger, loss)
        per_unit = (entry - trigger) + (entry + trigger) * taker
        assert qty <= (D(3) / per_unit).quantize(D("0.001"), rounding=ROUND_DOWN)
    finally:
        await desk.stop()
        await ex.stop()


async def test_exchange_unreachable_is_one_plain_line(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    config = write_config(tmp_path, ex)
    await ex.stop()  # nothing listens on that port any more
    desk = Desk(tmp_path, config, desk_keyring)
    await desk.start()
    code = await desk.exit_code(60)
    out = desk.output()
    assert code != 0, out
    no_traceback(out)
    errors = [line for line in out.splitlines() if line.startswith("tapedesk:")]
    assert len(errors) == 1, out  # one line saying what is wrong


async def test_failure_after_changing_the_account_restores_it_or_says_what_changed(
        exchange, tmp_path, desk_keyring):
    exchange.inject(path="/fapi/v1/leverage", method="POST", status=400, code=-1001,
                    times=1000)
    desk = Desk(tmp_path, write_config(tmp_path, exchange), desk_keyring)
    await desk.start()
    code = await desk.exit_code(60)
    out = desk.output()
    assert code != 0, out
    no_traceback(out)
    after_confirmation = out.split("Type BTCUSDT", 1)[-1]  # the summary before says ISOLATED
    restored = exchange.account.positions["BTCUSDT"].margin_type == "CROSSED"
    assert restored or re.search(r"isolated", after_confirmation, re.IGNORECASE), out
