"""The ``/`` prompt: filter the explanation log by text as you type.

A modal line at the bottom, so the letters typed never reach the desk's own keys (``p``,
``q``, ``1``…); ``ctrl+x`` is a priority binding and still fires. Enter keeps the filter,
escape clears it (escape on the desk clears it too).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input


class LogSearchScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape", "clear", "Clear search")]
    DEFAULT_CSS = """
    LogSearchScreen { align: left bottom; background: $background 0%; }
    LogSearchScreen Input { width: 100%; border: tall $accent; }
    """

    def __init__(self, log: Any) -> None:
        super().__init__()
        self.log_widget = log  # the desk's ExplainLog: set_search(text)

    def compose(self) -> ComposeResult:
        yield Input(value=self.log_widget.search, id="log-search",
                    placeholder="filter the explanation log (enter keeps, esc clears)")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.log_widget.set_search(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.log_widget.set_search(event.value)
        self.dismiss()

    def action_clear(self) -> None:
        self.log_widget.set_search("")
        self.dismiss()
