"""Modal screens: confirm, help, strategies, chart. All modal, so ctrl+x (priority) still fires."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from tapedesk.engine.snapshot import DeskSnapshot
from tapedesk.tui.format import money
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static
from textual_plotext import PlotextPlot


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no with the explanation above. The safe answer ("no") has the focus, so Enter
    (or a key pressed by reflex) never resumes trading or quits; y confirms, n/escape cancel.

    ``live`` (optional) rewrites title and body from each new snapshot while the dialog is
    open, so it never describes a position that has already closed.
    """

    BINDINGS: ClassVar = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    AUTO_FOCUS = "#no"
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 70; max-width: 95%; height: auto; padding: 1 2;
        border: thick $warning; background: $surface; }
    ConfirmScreen Label { width: 1fr; margin-bottom: 1; }
    ConfirmScreen Button { margin-right: 2; }
    """

    def __init__(self, title: str, body: str, yes: str = "Yes (y)", no: str = "No (n)",
                 live: Callable[[DeskSnapshot], tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.title_text, self.body, self.yes, self.no = title, body, yes, no
        self.live = live

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text, style="bold"), id="confirm-title")
            yield Label(self.body, id="confirm-body")
            with Vertical(classes="buttons"):
                yield Button(self.yes, id="yes", variant="warning")
                yield Button(self.no, id="no", variant="primary")

    def show(self, snap: DeskSnapshot | None) -> None:
        """Called by the app every frame while this dialog is on top."""
        if self.live is None or snap is None:
            return
        title, body = self.live(snap)
        if (title, body) == (self.title_text, self.body):
            return
        self.title_text, self.body = title, body
        if self.is_mounted:
            self.query_one("#confirm-title", Label).update(Text(title, style="bold"))
            self.query_one("#confirm-body", Label).update(body)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class HelpScreen(ModalScreen[None]):
    """Every desk key with what it does (built from the app's bindings, so it cannot drift)."""

    BINDINGS: ClassVar = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: 78; max-width: 98%; height: auto; max-height: 95%;
        padding: 1 2; border: thick $primary; background: $surface; }
    """

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        t = Text("Tapedesk keys\n\n", style="bold")
        for key, text in self.rows:
            t.append(f"{key:>9}  ", style="bold")
            t.append(f"{text}\n")
        t.append("\nctrl+p opens the command palette (every action).  esc closes this.",
                 style="dim")
        yield Static(t)


class StrategyScreen(ModalScreen[None]):
    """Name, enabled, last signal and today's stats per strategy; 1–9 toggle here too."""

    BINDINGS: ClassVar = [Binding("escape,s,q", "dismiss", "Close")] + [
        Binding(str(n), f"app.toggle_strategy({n})", f"Toggle {n}", show=False)
        for n in range(1, 10)
    ]
    DEFAULT_CSS = """
    StrategyScreen { align: center middle; }
    StrategyScreen > Vertical { width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1; }
    StrategyScreen DataTable { height: auto; max-height: 20; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Strategies — 1–9 enable/disable, esc closes", style="bold"))
            yield DataTable(id="strategies", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("#", "name", "enabled", "last signal", "signals", "trades", "P&L today",
                     "error"):
            table.add_column(name, key=name)
        self.show(self.app.last_snapshot)  # type: ignore[attr-defined]

    def show(self, snap: DeskSnapshot | None) -> None:
        tables = self.query(DataTable)
        if snap is None or not tables or not tables.first().columns:
            return  # painted by the app before this screen composed / mounted
        table = tables.first()
        vars_ = self.app.theme_variables
        for st in snap.strategies:
            on = Text("ON", style=f"bold {vars_.get('pnl-up', 'green')}") if st.enabled else Text(
                "off", style=f"bold {vars_.get('pnl-down', 'red')}"
            )
            cells = (str(st.index), st.name, on, st.last_signal or "—", str(st.signals_today),
                     str(st.trades_today), money(st.pnl_today, signed=True), st.error or "")
            key = f"s{st.index}"
            if key in table.rows:
                for col, value in zip(table.columns, cells, strict=True):
                    table.update_cell(key, col, value)
            else:
                table.add_row(*cells, key=key)


def drawdown(equity: list[float]) -> list[float]:
    """Drawdown from the running peak, in dollars (≤ 0)."""
    out, peak = [], float("-inf")
    for v in equity:
        peak = max(peak, v)
        out.append(v - peak)
    return out


class ChartScreen(ModalScreen[None]):
    """Full plotext chart of equity and drawdown (textual-plotext follows the app theme)."""

    BINDINGS: ClassVar = [Binding("escape,c,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    ChartScreen { align: center middle; }
    ChartScreen > Vertical { width: 95%; height: 90%; border: thick $primary;
        background: $surface; }
    ChartScreen PlotextPlot { height: 1fr; }
    """

    def __init__(self, curve: list[tuple[int, float]]) -> None:
        super().__init__()
        self.curve = curve

    def compose(self) -> ComposeResult:
        with Vertical():
            yield PlotextPlot(id="equity")
            yield PlotextPlot(id="drawdown")

    def on_mount(self) -> None:
        t0 = self.curve[0][0] if self.curve else 0
        xs = [(ts - t0) / 3_600_000 for ts, _ in self.curve] or [0.0]
        eq = [v for _, v in self.curve] or [0.0]
        p = self.query_one("#equity", PlotextPlot).plt
        p.title("Equity ($) — esc to close")
        p.plot(xs, eq, marker="braille")
        d = self.query_one("#drawdown", PlotextPlot).plt
        d.title("Drawdown from peak ($)")
        d.xlabel("hours since the first sample")
        d.plot(xs, drawdown(eq), marker="braille")
