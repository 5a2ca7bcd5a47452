"""Attack: `tapedesk stop-to-breakeven` while the entry is only partly filled (the rest fills
later), against a live desk on the local exchange. The moved stop must cover the whole
position once the rest fills, and the trade's R must still be measured against the risk
taken at entry (the initial stop), not against the break-even stop."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.attacks_desk._venue import (
    QuoteBeat,
    assert_story_matches_journal,
    rows,
    see_price,
    stops,
)
from tests.local_exchange import LocalExchange
from tests.local_exchange.desk import KEY, SECRET, Desk, Heartbeat, desk_keyring, write_config

__all__ = ["desk_keyring"]
D = Decimal
pytestmark = pytest.mark.keyring


async def test_break_even_during_a_partial_entry_keeps_the_initial_risk(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        ex.account.partial_fills = [D("0.5")]  # the entry fills half; the rest on next price
        await ex.set_price("BTCUSDT", "60000")
        with QuoteBeat(ex, "60007"):
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount > 0, 20,
                                "half entry")
            await desk.wait_for(lambda: stops(ex), 20, "a stop for the half")
        [entry] = [o for o in ex.account.orders.values() if o.type == "MARKET"]
        assert entry.status == "PARTIALLY_FILLED" and entry.executed < entry.qty
        [first_stop] = stops(ex)
        # The desk sees 60,150 (past break-even) without the exchange filling the rest yet.
        with QuoteBeat(ex, "60150"):
            await see_price(desk, "60150")
            moved = await desk.acli("stop-to-breakeven", "BTCUSDT")
        assert moved.returncode == 0, moved
        be = D(moved.stdout.split("to break-even ")[1].split(" ")[0])
        assert be > first_stop.trigger_price
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60150")  # the rest of the entry fills
            await desk.wait_for(lambda: entry.status == "FILLED", 10, "the rest of the entry")
            full = ex.account.positions["BTCUSDT"].amount
            await desk.wait_for(lambda: [(s.trigger_price, s.qty) for s in stops(ex)]
                                == [(be, full)], 15, "one stop at break-even for the whole")
            closed = await desk.acli("close", "BTCUSDT")
            assert closed.returncode == 0, closed
        await desk.wait_for(lambda: rows(desk, "SELECT id FROM trades"), 10, "the trade")
        [(tid, risk, qty, entry_px)] = rows(
            desk, "SELECT id, risk_amount, qty, entry_price FROM trades")
        assert D(qty) == full
        # Initial risk: at least the distance to the first stop on the whole quantity
        # (fees and slippage only add to it). A risk measured from the break-even stop
        # is a few fee-dollars and makes a scratch trade look like several R.
        distance = (D(entry_px) - first_stop.trigger_price) * full
        assert D(risk) >= distance, (risk, distance, be)
        s = assert_story_matches_journal(desk, tid)
        assert s["pnl"]["r"] is not None and abs(s["pnl"]["r"]) < 1, s["pnl"]
    finally:
        await desk.stop()
        await ex.stop()
