"""Modal screens: confirm, help, chart (strategies: strategy_screen.py).

All modal, so ctrl+x (priority) still fires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from tapedesk.engine.snapshot import DeskSnapshot
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static
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
        table = Table.grid(padding=(0, 1))
        table.add_column(justify="right", style="bold", no_wrap=True)
        table.add_column(ratio=1)
        for key, text in self.rows:
            table.add_row(Text(key), Text(text))
        self.body = Group(Text("Tapedesk keys (remap them in [ui.keymap])\n", style="bold"),
                          table, Text("\nesc closes this.", style="dim"))
        yield Static(self.body)


def drawdown(equity: list[float]) -> list[float]:
    """Drawdown from the running peak, in dollars (≤ 0): engine.metrics.drawdowns, the one
    drawdown computation."""
    from tapedesk.engine.metrics import drawdowns

    return [-dd for dd, _pct in drawdowns(equity)]


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
