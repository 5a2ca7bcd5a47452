"""The trade story screen: Enter on a trade row shows that trade's whole story.

The text is engine.trade_story's (the same ``tapedesk trades --id N`` prints), read from the
desk's own journal in a worker, so a slow disk never blocks the keyboard.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from tapedesk.engine.trade_story import load_story, story_text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class TradeStoryScreen(ModalScreen[None]):
    """Scrollable (arrows, page keys); esc / q / enter closes."""

    BINDINGS: ClassVar = [Binding("escape,q,enter", "dismiss", "Close")]
    DEFAULT_CSS = """
    TradeStoryScreen { align: center middle; }
    TradeStoryScreen > Vertical { width: 95%; height: 90%; border: thick $primary;
        background: $surface; padding: 0 1; }
    TradeStoryScreen #story-title { height: 1; }
    TradeStoryScreen VerticalScroll { height: 1fr; }
    """

    def __init__(self, journal: Any, trade_id: int) -> None:
        super().__init__()
        self.journal = journal
        self.trade_id = trade_id
        self.story: dict[str, Any] | None = None
        self.text = f"Reading trade #{trade_id} from the journal…"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Trade #{self.trade_id}: its whole story "
                             "(↑↓ scroll, esc closes)", style="bold"), id="story-title")
            with VerticalScroll():
                yield Static(Text(self.text), id="story")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
        self.run_worker(self._load(), name="trade-story", exit_on_error=False)

    async def _load(self) -> None:
        if self.journal is None or self.trade_id <= 0:
            self._show("This trade has no journal record, so it has no story to read.")
            return
        try:
            self.story = await load_story(self.journal, self.trade_id)
        except Exception as exc:  # shown, never a crashed screen
            self._show(f"Could not read trade #{self.trade_id} from the journal: {exc}")
            return
        if self.story is None:
            self._show(f"Trade #{self.trade_id} is not in the journal.")
            return
        self._show(story_text(self.story))

    def _show(self, text: str) -> None:
        self.text = text
        self.query_one("#story", Static).update(Text(text))
