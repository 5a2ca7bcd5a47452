"""``x`` closes the shown position (dialog default Cancel), ``b`` moves its stop to
break-even, on the REAL engine (paper venue, SQLite journal, the looping demo replay).

The replay is held (feed gate) while a trade is open, so nothing but the key acts on it.
For ``b`` the paper venue's last price is set on either side of break-even: the replay's
own prices decide nothing, the rule does.
"""

from __future__ import annotations

import asyncio
import sqlite3

from tapedesk.engine.events import OrderRole, Side
from tapedesk.engine.position_actions import break_even_stop
from tapedesk.tui.app import make_app
from tapedesk.tui.position_actions import ClosePositionScreen

from tests.tui.helpers import feed_gate, ready, screen_text, settle
from tests.tui.real_engine import live_like_engine


async def hold_quiet_trade(pilot, engine, gate) -> None:
    """``hold_open_trade``, but only at a moment when nothing else is working on the trade
    (no strategy exit resting in the paper venue, no entry still open): the keys are then
    the only thing that acts on it."""
    async with asyncio.timeout(60):
        while not engine.book.positions or any(
                i.role not in (OrderRole.STOP, OrderRole.TAKE_PROFIT)
                for i in engine.orders.open.values()):
            await pilot.pause(0.01)
    gate.clear()
    await settle(pilot)


def _rows(engine, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{engine.journal.path}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def _stops(engine, symbol: str) -> list:
    return [i for i in engine.orders.open.values()
            if i.symbol == symbol and i.role is OrderRole.STOP]


async def test_x_asks_enter_cancels_and_y_closes_as_manual(desk_engine):
    gate = feed_gate(desk_engine)
    app = make_app(desk_engine, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await hold_quiet_trade(pilot, desk_engine, gate)
        pos = app.last_snapshot.position
        sym, qty, trades_before = pos.symbol, pos.qty, len(desk_engine.trades)
        titles = [c.title for c in app.get_system_commands(app.screen)]  # the palette
        assert f"Close {pos.side.value} {sym} (x)" in titles
        assert f"Stop to break-even {pos.side.value} {sym} (b)" in titles
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ClosePositionScreen)
        assert app.screen.focused is not None and app.screen.focused.id == "no"
        assert f"Close {pos.side.value.upper()} {pos.qty} {sym} now?" in screen_text(app)
        await pilot.press("enter")  # the default: Cancel
        await settle(pilot)
        assert not isinstance(app.screen, ClosePositionScreen)
        assert desk_engine.book.get(sym) is not None
        assert not any(i.role is OrderRole.FLATTEN for i in desk_engine.orders.open.values())
        assert len(desk_engine.trades) == trades_before

        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert desk_engine.book.get(sym) is None
        trip = desk_engine.trades[-1]
        assert trip.reason == "manual" and trip.symbol == sym
        snap = app.last_snapshot
        assert not snap.halted and not snap.paused  # one position closed, desk still running
        assert "manual" in screen_text(app)  # the trade history row
    # What the journal holds, read from the SQLite file after the desk closed it.
    assert _rows(desk_engine, "SELECT reason FROM trades ORDER BY id DESC LIMIT 1") == [
        ("manual",)]
    close = _rows(desk_engine, "SELECT side, type, qty, reduce_only, status FROM orders "
                               "WHERE role = 'flatten'")
    assert close == [(pos.side.opposite.order_side, "MARKET", str(qty), 1, "FILLED")]
    said = [t for (t,) in _rows(desk_engine, "SELECT text FROM explanations")]
    assert any(t.startswith(f"Manual close {sym} (the trader's request)") for t in said)


async def test_b_refuses_the_wrong_side_then_moves_the_stop_and_a_restart_keeps_it(
        desk_engine, _temp_home):
    gate = feed_gate(desk_engine)
    app = make_app(desk_engine, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await hold_quiet_trade(pilot, desk_engine, gate)
        pos = desk_engine.book.get(app.last_snapshot.position.symbol)
        sym, s = pos.symbol, pos.side.sign
        spec = desk_engine.spec(sym)
        be = break_even_stop(pos, desk_engine.orders.costs.taker_fee, spec)
        old = [(i.client_id, i.stop_price) for i in _stops(desk_engine, sym)]
        assert len(old) == 1 and old[0][1] != be
        venue = desk_engine.venue

        venue.last_price[sym] = float(be - s * 5 * spec.tick_size)  # not yet past break-even
        await pilot.press("b")
        await settle(pilot)
        assert [(i.client_id, i.stop_price) for i in _stops(desk_engine, sym)] == old
        assert pos.stop_loss == old[0][1]
        refused = [e for e in desk_engine.recent if e.rule == "stop_move"]
        assert refused and "refused" in refused[-1].text and str(be) in refused[-1].text

        venue.last_price[sym] = float(be + s * 50 * spec.tick_size)
        await pilot.press("b")
        await settle(pilot)
        stops = _stops(desk_engine, sym)
        assert [i.stop_price for i in stops] == [be] and stops[0].client_id != old[0][0]
        assert pos.stop_loss == be and desk_engine.orders.plans[sym].stop == be
        resting = [r.intent for r in venue.orders.values() if r.intent.role is OrderRole.STOP]
        assert [i.stop_price for i in resting] == [be]  # the old one is cancelled
        assert s * (be - pos.entry_price) > 0
        assert pos.side in (Side.LONG, Side.SHORT)
    statuses = dict(_rows(desk_engine, "SELECT stop_price, status FROM orders "
                                       "WHERE role = 'stop'"))
    assert statuses[str(be)] == "NEW" and statuses[str(old[0][1])] == "CANCELED"

    again = live_like_engine(_temp_home)
    await again.start()
    try:
        assert again.orders.plans[sym].stop == be
        assert again.book.get(sym).stop_loss == be
        assert [i.stop_price for i in _stops(again, sym)] == [be]
    finally:
        await again.stop()


async def test_keys_with_no_position_say_so_and_send_nothing(snapshot_engine):
    app = make_app(snapshot_engine, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        for sym in list(snapshot_engine.book.positions):  # the cut ends with one open
            await snapshot_engine.close_manually(sym)
        await settle(pilot)
        sent = len(snapshot_engine.orders.open)
        await pilot.press("x")
        await settle(pilot)
        assert not isinstance(app.screen, ClosePositionScreen)
        await pilot.press("b")
        await settle(pilot)
        assert len(snapshot_engine.orders.open) == sent
        said = [e.text for e in app.explain.history]
        assert "No open position: nothing to close." in said
        assert "No open position: nothing to move a stop." in said
        toasts = [n.message for n in app._notifications]
        assert "No open position: nothing to close." in toasts
