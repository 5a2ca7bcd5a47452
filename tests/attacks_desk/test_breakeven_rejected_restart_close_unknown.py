"""Attacks on a live desk's one-position actions, one trade through them all:

- `stop-to-breakeven` on a symbol with no position: refused, exit 3, nothing sent;
- the exchange refuses the new stop: the old one stays live, the CLI says the stop did NOT
  move, status shows no false UNPROTECTED;
- the move accepted, then the desk killed at once and restarted: the journal's checkpoint
  and the exchange hold the moved stop (one stop, not two), and a second `b` sends nothing;
- `tapedesk close` answered -1007 (503, "execution status unknown") after the exchange took
  it: the desk ends flat and knows it, never short, one trade journaled.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.attacks_desk._venue import assert_story_matches_journal, covered, rows, see_price, stops
from tests.local_exchange import LocalExchange
from tests.local_exchange.desk import KEY, SECRET, Desk, Heartbeat, desk_keyring, write_config
from tests.local_exchange.request_log import ALGO, ORDER

__all__ = ["desk_keyring"]
D = Decimal
pytestmark = pytest.mark.keyring


def _position_stop(status: dict) -> str | None:
    return (status.get("position") or {}).get("stop")


async def test_rejected_move_restart_and_an_unknown_close(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        nothing = await desk.acli("stop-to-breakeven", "ETHUSDT")
        assert nothing.returncode == 3 and "no open position on ETHUSDT" in nothing.stdout
        assert not ex.requests.order_posts()
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: covered(ex), 20, "entry, stop and target")
            [old] = stops(ex)
            await ex.set_price("BTCUSDT", "60150")
            await see_price(desk, "60150")

            # 1. The exchange refuses the new stop (-4045: too many stop orders).
            ex.inject(path=ALGO, method="POST", status=400, code=-4045,
                      msg="Reach max stop order limit.",
                      when=lambda p: p.get("type") == "STOP_MARKET")
            refused = await desk.acli("stop-to-breakeven", "BTCUSDT")
            assert "did NOT take the stop" in refused.stdout, refused.stdout
            # A script's `tapedesk stop-to-breakeven X && ...` must not read this as done.
            assert refused.returncode != 0, refused
            assert ex.requests.rejected(-4045) and [a.algo_id for a in stops(ex)] == [old.algo_id]
            status = await desk.ajson("status")
            assert status["unprotected"] == [], status
            assert D(_position_stop(status)) == old.trigger_price, status

            # 2. Accepted; the desk is killed as soon as the CLI answers.
            moved = await desk.acli("stop-to-breakeven", "BTCUSDT")
            assert moved.returncode == 0 and "the venue holds the stop at" in moved.stdout, moved
            be = D(moved.stdout.split("to break-even ")[1].split(" ")[0])
            await desk.kill9()
            await desk.start()
            await desk.wait_for(lambda: desk.status_is(
                lambda s: s["running"] and D(_position_stop(s)) == be), 30,
                "the restarted desk to hold the moved stop")
            await desk.wait_for(lambda: [s.trigger_price for s in stops(ex)] == [be], 15,
                                "one stop on the exchange, at break-even")
            await desk.wait_for(lambda: covered(ex), 10, "the whole position covered")
            # The journal's orders table may still list the old stop as open when the kill
            # came before its cancel was journaled (seen once under load: confirm() drops a
            # restored stop the exchange no longer lists without journaling a final status;
            # see the report). The checkpoint (status) and the exchange are asserted above.
            journal_stops = [r for r in desk.journal_open_orders() if r["role"] == "stop"]
            assert be in [D(r["stop_price"]) for r in journal_stops], journal_stops
            await see_price(desk, "60150")
            sent = len(ex.requests.order_posts())
            again = await desk.acli("stop-to-breakeven", "BTCUSDT")
            assert again.returncode == 0 and "already at break-even" in again.stdout, again
            assert len(ex.requests.order_posts()) == sent

            # 3. The close reaches the book, but the answer is -1007 (status unknown).
            ex.inject(path=ORDER, method="POST", status=503, code=-1007, after=True,
                      msg="Timeout waiting for response from backend server. Send status "
                          "unknown; execution status unknown.",
                      when=lambda p: p.get("type") == "MARKET")
            closed = await desk.acli("close", "BTCUSDT")
            assert closed.returncode == 0, closed
            assert ex.requests.rejected(-1007)
            assert ex.account.positions["BTCUSDT"].amount == 0
            await desk.wait_for(lambda: desk.status_is(lambda s: s["position"] is None), 20,
                                "the desk to know it is flat")
            await desk.wait_for(lambda: not ex.account.open_algos("BTCUSDT"), 15,
                                "stop and target cancelled")
            assert ex.account.positions["BTCUSDT"].amount == 0  # never short
        await desk.wait_for(lambda: rows(desk, "SELECT id FROM trades"), 10, "the trade")
        [(tid, reason)] = rows(desk, "SELECT id, reason FROM trades")
        assert reason == "manual"
        said = "\n".join(t for (t,) in rows(desk, "SELECT text FROM explanations"))
        assert "Manual close filled: SELL" in said  # the trader's close, not an e-stop
        assert "Emergency close" not in said
        closes = [r for r in ex.requests.posts(ORDER) if r.params.get("type") == "MARKET"
                  and r.params.get("side") == "SELL"]
        assert all(r.reduces for r in closes), closes
        assert_story_matches_journal(desk, tid)
    finally:
        await desk.stop()
        await ex.stop()
