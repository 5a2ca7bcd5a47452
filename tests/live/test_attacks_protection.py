"""Attack on "no position without a stop, ever silently" (issue 8, item 6), through
``tapedesk --live run --headless`` against the local exchange.

The market jumps through the stop level right after the entry fills, so the stop is refused
by Binance's real rule (-2021 "Order would immediately trigger."); the first reduce-only exit
is then refused with -2022. Within ``risk.unprotected_grace_s`` (set to 2 s here) plus the
time a retry needs, the position must be flat or covered by an exchange-side stop, and the
desk must say why it flattened.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.local_exchange import Behaviour, LocalExchange
from tests.local_exchange.desk import (
    KEY,
    SECRET,
    Desk,
    Heartbeat,
    desk_keyring,
    stop_and_target_cover,
    write_config,
)

__all__ = ["desk_keyring"]
D = Decimal
GRACE_S = 2.0
SLACK_S = 3.0  # a retry with backoff and a round trip on loopback
pytestmark = pytest.mark.keyring


async def test_stop_refused_then_exit_refused_never_leaves_the_position_unprotected(
        tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET,
                       behaviour=Behaviour(algo_new_client_id=True, algo_order_first=True))
    await ex.start()
    cfg = write_config(tmp_path, ex, risk={"unprotected_grace_s": GRACE_S})
    desk = Desk(tmp_path, cfg, desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        ex.behaviour.price_after_fill = D("59850")  # through the 0.2 % stop at once
        ex.inject(path="/fapi/v1/order", method="POST", code=-2022,
                  when=lambda p: p.get("reduceOnly") == "true")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount > 0, 20,
                                "the entry")
            # Binance refuses the stop (-2021) unless the desk sees the price is through it
            # first; either way the first reduce-only exit meets -2022 and must be retried
            await desk.wait_for(lambda: bool(ex.requests.rejected(-2022)), GRACE_S + SLACK_S,
                                "a reduce-only exit (refused once)")
            await desk.wait_for(lambda: _safe(ex), GRACE_S + SLACK_S,
                                "flat or covered by a stop")
        assert ex.account.protection.longest() <= GRACE_S + SLACK_S
        assert ex.requests.sent_twice() == []  # only reduce-only orders may be re-sent
        assert len([o for o in ex.account.orders.values() if not o.reduce_only]) == 1
        out = desk.output()
        assert re.search(r"unprotected|no stop|without a stop", out, re.IGNORECASE), out[-3000:]
        if ex.account.positions["BTCUSDT"].amount == 0:
            await desk.wait_for(lambda: desk.status_is(lambda st: st["position"] is None), 10,
                                "status flat")
        desk.assert_no_secret()
    finally:
        await desk.stop()
        await ex.stop()


def _safe(ex: LocalExchange) -> bool:
    size, stop, _target = stop_and_target_cover(ex)
    return size == 0 or stop == size
