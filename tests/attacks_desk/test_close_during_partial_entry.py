"""Attack: `tapedesk close` while the entry is only partly filled, and the rest of the entry
fills on the exchange before the desk's cancel of it arrives (the cancel is held up). The
trader asked for the position to be closed: the desk must end flat on the exchange (or, if
it keeps what filled later, protect it and say so) — never leave quantity the trader closed
open without a word."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.attacks_desk._venue import QuoteBeat, assert_story_matches_journal, rows, stops
from tests.local_exchange import LocalExchange
from tests.local_exchange.desk import KEY, SECRET, Desk, Heartbeat, desk_keyring, write_config
from tests.local_exchange.request_log import ORDER

__all__ = ["desk_keyring"]
D = Decimal
pytestmark = pytest.mark.keyring


async def test_close_while_the_rest_of_the_entry_fills(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        ex.account.partial_fills = [D("0.5")]
        await ex.set_price("BTCUSDT", "60000")
        with QuoteBeat(ex, "60007"):
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount > 0, 20,
                                "half entry")
            await desk.wait_for(lambda: stops(ex), 20, "a stop for the half")
            ex.inject(path=ORDER, method="DELETE", delay=2.0)  # the entry's cancel, late
            said = await desk.acli("close", "BTCUSDT")
            assert said.returncode == 0, said
            assert "Cancelling the entry still working first" in "\n".join(
                t for (t,) in rows(desk, "SELECT text FROM explanations"))
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60010")  # the rest of the entry fills now
            await desk.wait_for(lambda: not [r for r in ex.requests if r.method == "DELETE"
                                             and r.path == ORDER and not r.status], 10,
                                "the late cancel answered")

            def settled() -> bool:
                amt = ex.account.positions["BTCUSDT"].amount
                return amt == 0 or (stops(ex) and sum(s.qty for s in stops(ex)) >= amt)

            await desk.wait_for(settled, 15, "flat, or what is left protected")
            left = ex.account.positions["BTCUSDT"].amount
            said = "\n".join(t for (t,) in rows(desk, "SELECT text FROM explanations"))
            assert left == 0, (
                f"the trader closed BTCUSDT but {left} is open again (the rest of the "
                f"entry filled after the close):\n{said[-1500:]}")
            await desk.wait_for(lambda: not ex.account.open_algos("BTCUSDT"), 10,
                                "stop and target cancelled")
        await desk.wait_for(lambda: len(rows(desk, "SELECT id FROM trades")) == 2, 10,
                            "both parts journaled")
        for (tid, reason) in rows(desk, "SELECT id, reason FROM trades"):
            assert reason == "manual"
            assert_story_matches_journal(desk, tid)
    finally:
        await desk.stop()
        await ex.stop()
