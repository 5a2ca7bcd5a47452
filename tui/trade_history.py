"""Trade history: a DataTable of round trips, newest first; appended and trimmed, never rebuilt.

Each row shows the trade's journal id (the one ``tapedesk trades --id`` takes) and its exit
date and time; Enter on a row asks the app to open that trade's story (``Open``).
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from tapedesk.engine.events import RoundTrip
from tapedesk.tui.format import money, price, qty, stamp
from tapedesk.tui.render_caches import TABLE_CACHES, limit_render_caches
from textual.message import Message
from textual.widgets import DataTable


class _TimeCell(str):
    """Shows the date and time but sorts by the exit timestamp (and arrival order on ties)."""

    order: tuple[int, int]


class TradeHistory(DataTable):
    """DataTable has no row cap of its own, so this one drops the oldest rows past ``max_rows``."""

    DEFAULT_CSS = """
    TradeHistory { height: 1fr; border: round $primary 50%; }
    """

    class Open(Message):
        """Enter on a row: show trade ``trade_id``'s story (0: a trade with no journal id)."""

        def __init__(self, trade_id: int) -> None:
            super().__init__()
            self.trade_id = trade_id

    def __init__(self, max_rows: int = 200, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.max_rows = max_rows
        self._keys: deque[str] = deque()
        self._seq = 0
        self.trade_ids: dict[str, int] = {}  # row key -> journal trade id
        self.caches_missing = limit_render_caches(self, TABLE_CACHES)

    def on_mount(self) -> None:
        self.border_title = "Trades"
        self.add_column("#", key="id")
        self.add_column("closed (UTC)", key="time")
        for name in ("side", "qty", "entry", "exit", "fees", "P&L", "reason"):
            self.add_column(name, key=name)

    def add_trips(self, trips: list[RoundTrip]) -> None:
        if not trips:
            return
        trips = trips[-self.max_rows:]
        up = self.app.theme_variables.get("pnl-up", "green")
        down = self.app.theme_variables.get("pnl-down", "red")
        for trip in trips:
            self._seq += 1
            key = f"rt{self._seq}"
            cell = _TimeCell(stamp(trip.exit_ts))
            cell.order = (trip.exit_ts, self._seq)
            pnl = Text(money(trip.pnl, signed=True), style=up if trip.pnl >= 0 else down)
            self.trade_ids[key] = trip.id
            self.add_row(
                str(trip.id or "—"), cell, trip.side.value, qty(trip.qty), price(trip.entry_price),
                price(trip.exit_price), money(trip.fees), pnl, trip.reason, key=key,
            )
            self._keys.append(key)
        while len(self._keys) > self.max_rows:
            gone = self._keys.popleft()
            self.remove_row(gone)
            self.trade_ids.pop(gone, None)
        self.sort("time", key=lambda cell: cell.order, reverse=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.Open(self.trade_ids.get(str(event.row_key.value), 0)))
