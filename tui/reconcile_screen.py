"""Startup reconciliation for a live desk: what the exchange holds that the journal does not
(or the other way round), answered one difference at a time. The desk does not trade until
every difference is answered; ctrl+x (priority) still works while this is open."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class ReconcileScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [
        Binding("a", "answer('adopt')", "Adopt"),
        Binding("f", "answer('flatten')", "Flatten"),
        Binding("i", "answer('ignore')", "Ignore"),
        Binding("escape", "dismiss", "Later"),
    ]
    DEFAULT_CSS = """
    ReconcileScreen { align: center middle; }
    ReconcileScreen > Vertical { width: 100; max-width: 98%; height: auto; max-height: 90%;
        padding: 1 2; border: thick $error; background: $surface; }
    ReconcileScreen OptionList { height: auto; max-height: 16; margin: 1 0; }
    """

    def __init__(self, engine: Any) -> None:
        super().__init__()
        self.engine = engine

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                Text(
                    "The exchange and the journal differ: the desk will not trade "
                    "until each difference is answered.",
                    style="bold",
                )
            )
            yield OptionList(id="differences")
            yield Label(
                "a adopt (the exchange is right) · f flatten (close it / cancel it) · "
                "i ignore (leave it, off the desk's books) · esc later · ctrl+x E-STOP"
            )

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        rec = self.engine.reconciliation
        found = self.query(OptionList)
        if not found:
            self.call_after_refresh(self._fill)
            return
        options = found.first()
        options.clear_options()
        for d in rec.differences:
            answer = rec.answers.get(d.key)
            options.add_option(Option(f"[{answer or 'pending'}] {d.text}", id=d.key))
        pending = [i for i, d in enumerate(rec.differences) if d.key not in rec.answers]
        if pending:
            options.highlighted = pending[0]

    def action_answer(self, action: str) -> None:
        found = self.query(OptionList)
        options = found.first() if found else None
        if options is None or options.highlighted is None:
            return
        key = options.get_option_at_index(options.highlighted).id
        self._resolve(key, action)

    @work(exclusive=True, group="reconcile")
    async def _resolve(self, key: str | None, action: str) -> None:
        rec = self.engine.reconciliation
        if key is None or key in rec.answers:
            return
        try:
            text = await self.engine.resolve_difference(key, action)
        except Exception as exc:  # shown, never a crash
            self.app.notify(f"Could not {action} {key}: {exc}", severity="error", markup=False)
            return
        self.app.notify(text, markup=False)
        if not rec.blocked:
            self.dismiss(None)
            return
        self._fill()
