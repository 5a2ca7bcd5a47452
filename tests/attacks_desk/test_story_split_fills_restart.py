"""Attack on the trade story's truth: a live trade whose entry and close each fill in three
trades (Binance's habits: ACK replies, spawned stop orders with their own ids), with the desk
killed and restarted while the position is open. The story (`tapedesk trades --id N
--json`) must list every fill the exchange made — price, qty, fee — with the journal's fees
and P&L, keep the signal and risk decision from before the restart, and measure R against
the initial risk."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.attacks_desk._venue import assert_story_matches_journal, covered, rows, stops
from tests.local_exchange import LocalExchange
from tests.local_exchange.behaviour import Behaviour
from tests.local_exchange.desk import KEY, SECRET, Desk, Heartbeat, desk_keyring, write_config

__all__ = ["desk_keyring"]
D = Decimal
pytestmark = pytest.mark.keyring


async def test_story_of_a_split_trade_across_a_restart(tmp_path, desk_keyring):
    honest = Behaviour.binance()
    honest.split_reduce_only = True  # the close fills in three trades too
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=honest)
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            # Split fills: the stop for the first part is replaced by one for the whole.
            await desk.wait_for(lambda: covered(ex) and len(stops(ex)) == 1, 20,
                                "entry, one stop and target")
            [first_stop] = stops(ex)
            await desk.kill9()
            await desk.start()
            await desk.wait_for(lambda: desk.status_is(lambda s: s["running"]
                                                       and s["position"] is not None), 30,
                                "the restarted desk with the position")
            await ex.set_price("BTCUSDT", "60100")
            await desk.wait_for(lambda: covered(ex), 10, "still covered")
            closed = await desk.acli("close", "BTCUSDT")
            assert closed.returncode == 0, closed
            assert ex.account.positions["BTCUSDT"].amount == 0
        await desk.wait_for(lambda: rows(desk, "SELECT id FROM trades"), 15, "the trade")
        [(tid, entry_px)] = rows(desk, "SELECT id, entry_price FROM trades")
        s = assert_story_matches_journal(desk, tid)
        made = [t for t in ex.account.trades if t["symbol"] == "BTCUSDT"]
        assert len(made) == 6, made
        told = sorted((D(f["price"]), D(f["qty"]), D(f["fee"])) for f in s["fills"])
        assert told == sorted((D(t["price"]), D(t["qty"]), D(t["commission"])) for t in made)
        assert {f["liquidity"] for f in s["fills"]} == {"taker"}
        assert s["signal"] is not None and s["decision"] is not None, s["missing"]
        assert s["exit"]["reason"] == "manual"
        qty = D(s["qty"])
        assert D(s["pnl"]["risk_amount"]) >= (D(entry_px) - first_stop.trigger_price) * qty
    finally:
        await desk.stop()
        await ex.stop()
