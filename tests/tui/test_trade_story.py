"""The trade story and the log search on the real engine (a replay of real bars that makes
real trades into a real journal), driven with Pilot."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

from tapedesk.engine import explanations as say
from tapedesk.tui.app import make_app
from tapedesk.tui.format import price
from tapedesk.tui.log_search import LogSearchScreen
from tapedesk.tui.trade_story_screen import TradeStoryScreen

from tests.tui.helpers import replayed, screen_text, settle
from tests.tui.real_engine import sample_cut

ENTRY = re.compile(r"^\d\d:\d\d:\d\d (TAKEN|REFUSED|FILL|EXIT|DESK|ERROR) ")


def _journal(engine, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{engine.journal.path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def test_enter_on_a_trade_row_opens_its_story_and_the_header_shows_last_prices(
    snapshot_engine, _temp_home
):
    app = make_app(snapshot_engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await replayed(pilot)
        header = screen_text(app).splitlines()[0]
        last_close = float(sample_cut(_temp_home).read_text().strip().splitlines()[-1]
                           .split(",")[4])
        assert f"BTCUSDT {price(last_close)} │" in header

        table = app.history
        assert app.focused is table and table.row_count >= 2
        table.move_cursor(row=1)  # the second newest: not only the top row works
        shown_id, shown_date = table.get_row_at(1)[:2]
        tid, pid, reason, exit_ts = _journal(
            snapshot_engine, "SELECT id, position_id, reason, exit_ts FROM trades "
            "ORDER BY exit_ts DESC, id DESC LIMIT 1 OFFSET 1")[0]
        assert shown_id == str(tid)
        assert shown_date == datetime.fromtimestamp(exit_ts / 1000, UTC).strftime("%m-%d %H:%M")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TradeStoryScreen) and app.screen.trade_id == tid
        text = screen_text(app)
        assert f"Trade #{tid} " in text and f"exit: {reason}" in text
        fills = _journal(snapshot_engine, "SELECT role, side, qty, price, fee, liquidity FROM "
                         "fills WHERE position_id = ? ORDER BY ts, id", (pid,))
        assert len(fills) >= 2
        for role, side, qty, px, fee, liq in fills:
            assert (f"{role:<11} {side:<4} {qty} @ {say.price(Decimal(px))}  "
                    f"fee {say.money(Decimal(fee))} ({liq})") in text
        assert "SIGNAL" in text and "why: " in text and "RISK    accepted" in text
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, TradeStoryScreen)


def _entries(app) -> list[str]:
    """The log entries on screen (their first line: time and kind start each entry)."""
    return [s.text for s in app.explain.lines if ENTRY.match(s.text)]


async def test_slash_filters_the_log_by_text_on_top_of_f_and_escape_clears(snapshot_engine):
    app = make_app(snapshot_engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await replayed(pilot)
        history = list(app.explain.history)
        with_stop = [e for e in history if "stop" in e.text.lower()]
        assert 0 < len(with_stop) < len(history)
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.screen, LogSearchScreen)
        for key in "stop":  # s and p are desk keys: typed here they must stay text
            await pilot.press(key)
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, LogSearchScreen) and not app.last_snapshot.paused
        assert "/stop" in app.explain.border_title
        shown = _entries(app)
        assert len(shown) == len(with_stop)
        assert not any("Entry filled" in line for line in shown)

        await pilot.press("f")  # taken: TAKEN, FILL, EXIT lines that mention a stop
        await settle(pilot)
        want = [e for e in with_stop if e.kind.value in ("taken", "fill", "exit")]
        assert len(_entries(app)) == len(want) and "taken" in app.explain.border_title
        await pilot.press("f")  # refused: none mention a stop here
        await settle(pilot)
        assert _entries(app) == [] and "nothing in the last" in screen_text(app)

        await pilot.press("escape")
        await settle(pilot)
        assert app.explain.search == "" and "/" not in app.explain.border_title.split("(")[0]
        refused = [e for e in history if e.kind.value == "refused"]
        assert len(_entries(app)) == len(refused) > 0  # the f filter stays
