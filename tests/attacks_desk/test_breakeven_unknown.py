"""Attack: `b` when the exchange takes the new stop but answers 503 (-1007, status unknown).
The desk must end with exactly one stop on the exchange, the one its status reports, and
say nothing false about protection: no UNPROTECTED while a stop stands."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.attacks_desk._venue import covered, see_price, stops
from tests.local_exchange import LocalExchange
from tests.local_exchange.desk import KEY, SECRET, Desk, Heartbeat, desk_keyring, write_config
from tests.local_exchange.request_log import ALGO

__all__ = ["desk_keyring"]
D = Decimal
pytestmark = pytest.mark.keyring


async def test_a_stop_move_with_an_unknown_answer(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: covered(ex), 20, "entry, stop and target")
            await ex.set_price("BTCUSDT", "60150")
            await see_price(desk, "60150")
            ex.inject(path=ALGO, method="POST", status=503, code=-1007, after=True,
                      msg="Timeout waiting for response from backend server. Send status "
                          "unknown; execution status unknown.",
                      when=lambda p: p.get("type") == "STOP_MARKET")
            moved = await desk.acli("stop-to-breakeven", "BTCUSDT")
            assert moved.returncode == 0, moved
            assert ex.requests.rejected(-1007)

            async def settled() -> bool:
                live = stops(ex)
                if len(live) != 1 or not covered(ex):
                    return False
                status = await desk.ajson("status")
                pos = status["position"] or {}
                return D(pos.get("stop") or 0) == live[0].trigger_price and \
                    status["unprotected"] == []

            await desk.wait_for(settled, 20, "one stop, the one the desk reports")
            [stop] = stops(ex)
            be = D(moved.stdout.split("to break-even ")[1].split(" ")[0])
            assert stop.trigger_price == be, (stop.trigger_price, be, moved.stdout)
    finally:
        await desk.stop()
        await ex.stop()
