"""The strategy screen: every registered strategy (built-in and plugins) in every mode.

Loaded strategies show their live parameters and today's stats; the others show their
defaults and "not loaded". Enter (or space) enables / disables the highlighted one; a
strategy that is not loaded is created by the engine with its default parameters
(``engine.add_strategy``), so the desk can switch on anything it knows, not only what the
config listed. 1–9 still toggle loaded strategy N.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from tapedesk.engine.snapshot import DeskSnapshot, StrategyStatus
from tapedesk.engine.strategy_catalog import StrategyInfo, catalog
from tapedesk.tui.format import money
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

#: Parameters last: the longest cell, and shown in full below the table for the highlighted row.
COLUMNS = ("#", "name", "enabled", "last signal", "signals", "trades", "P&L today", "error",
           "parameters")


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "—"


class StrategyScreen(ModalScreen[None]):
    """One row per registered strategy; the highlighted one's description below."""

    BINDINGS: ClassVar = [
        Binding("escape,s,q", "dismiss", "Close"),
        Binding("enter,space", "toggle_highlighted", "Enable/disable", priority=True),
    ] + [
        Binding(str(n), f"app.toggle_strategy({n})", f"Toggle {n}", show=False)
        for n in range(1, 10)
    ]
    DEFAULT_CSS = """
    StrategyScreen { align: center middle; }
    StrategyScreen > Vertical { width: 95%; height: auto; max-height: 95%;
        border: thick $primary; background: $surface; padding: 0 1; }
    StrategyScreen DataTable { height: auto; max-height: 16; }
    StrategyScreen #about { height: auto; margin-top: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.infos: dict[str, StrategyInfo] = {}
        self.problems: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Strategies: enter enables / disables the highlighted one, "
                             "1–9 toggle loaded N, esc closes", style="bold"))
            yield DataTable(id="strategies", cursor_type="row")
            yield Static(id="about")

    def on_mount(self) -> None:
        infos, self.problems = catalog()
        self.infos = {i.name: i for i in infos}
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self.show(self.app.last_snapshot)  # type: ignore[attr-defined]
        self._describe()

    # ---- painting ---------------------------------------------------------------------
    def _loaded_params(self, name: str) -> dict[str, Any] | None:
        app: Any = self.app
        for strat in app.engine.strategies:
            if strat.name == name:
                return dict(getattr(strat, "params", {}) or {})
        return None

    def show(self, snap: DeskSnapshot | None) -> None:
        """Repaint from the app's snapshot (called every frame while this screen is up)."""
        tables = self.query(DataTable)
        if not tables or not tables.first().columns:
            return  # painted by the app before this screen composed / mounted
        table = tables.first()
        status = {st.name: st for st in (snap.strategies if snap else ())}
        names = list(status) + [n for n in self.infos if n not in status]
        for name in names:
            cells = self._cells(name, status.get(name))
            if name in table.rows:
                for col, value in zip(table.columns, cells, strict=True):
                    table.update_cell(name, col, value)
            else:
                table.add_row(*cells, key=name)

    def _cells(self, name: str, st: StrategyStatus | None) -> tuple[Any, ...]:
        vars_ = self.app.theme_variables
        params = self._loaded_params(name)
        if st is None or params is None:
            info = self.infos.get(name)
            defaults = {p.name: p.default for p in info.params} if info else {}
            off = Text("not loaded", style="dim")
            return ("", name, off, "—", "", "", "", "", _params_text(defaults))
        on = (Text("ON", style=f"bold {vars_.get('pnl-up', 'green')}") if st.enabled
              else Text("off", style=f"bold {vars_.get('pnl-down', 'red')}"))
        return (str(st.index), name, on, st.last_signal or "—", str(st.signals_today),
                str(st.trades_today), money(st.pnl_today, signed=True), st.error or "",
                _params_text(params))

    def highlighted(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._describe()

    def _describe(self) -> None:
        name = self.highlighted()
        info = self.infos.get(name or "")
        t = Text()
        if info is not None:
            t.append(f"{info.name}", style="bold")
            t.append(f": {info.description}\n")
            for p in info.params:
                t.append(f"  {p.name} ({p.type}, default {p.default}): {p.help}\n")
        for problem in self.problems:
            t.append(f"plugin not loaded: {problem}\n", style="bold red")
        self.query_one("#about", Static).update(t)

    # ---- actions ----------------------------------------------------------------------
    def action_toggle_highlighted(self) -> None:
        name = self.highlighted()
        if name is None:
            return
        app: Any = self.app
        snap = app.last_snapshot
        for st in snap.strategies if snap else ():
            if st.name == name:
                app.action_toggle_strategy(st.index)
                return
        app.enable_new_strategy(name)
