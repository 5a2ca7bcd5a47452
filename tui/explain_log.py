"""The explanation log: every decision, taken or refused, with its rule; bounded and filterable.

Two filters stack: the kind filter (``f``: all / taken / refused / errors) and a text search
(``/``, case-insensitive, over time, kind, strategy, symbol, text and rule). Changing
either redraws from the log's kept history, so lines scrolled out of view come back.
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from tapedesk.engine.events import Explanation, ExplanationKind
from tapedesk.tui.format import clock
from tapedesk.tui.render_caches import LOG_CACHES, limit_render_caches
from textual.widgets import RichLog

FILTERS: dict[str, frozenset[ExplanationKind] | None] = {
    "all": None,
    "taken": frozenset({ExplanationKind.TAKEN, ExplanationKind.FILL, ExplanationKind.EXIT}),
    "refused": frozenset({ExplanationKind.REFUSED}),
    "errors": frozenset({ExplanationKind.ERROR}),
}
FILTER_ORDER = tuple(FILTERS)

_KIND_VAR = {
    ExplanationKind.TAKEN: "pnl-up",
    ExplanationKind.FILL: "accent",
    ExplanationKind.EXIT: "accent",
    ExplanationKind.REFUSED: "stale-warn",
    ExplanationKind.DESK: "primary",
    ExplanationKind.ERROR: "pnl-down",
}


class ExplainLog(RichLog):
    """Keeps its own bounded history so changing the filter can redraw from it."""

    DEFAULT_CSS = """
    ExplainLog { height: 1fr; border: round $primary 50%; }
    """

    def __init__(self, history: int = 1000, max_lines: int = 500, **kwargs) -> None:
        super().__init__(max_lines=max_lines, wrap=True, markup=False, min_width=20, **kwargs)
        self.history: deque[Explanation] = deque(maxlen=history)
        self.filter_name = "all"
        self.search = ""  # the / text filter ("" = none), matched case-insensitively
        self.redraw_lines = min(max_lines, 200)
        self.caches_missing = limit_render_caches(self, LOG_CACHES)

    def on_mount(self) -> None:
        self._title()

    def _title(self) -> None:
        found = f" · /{self.search}" if self.search else ""
        keys = "f: filter, /: search" + (", esc: clear" if self.search else "")
        self.border_title = f"Explanations · {self.filter_name}{found} ({keys})"

    def add(self, items: list[Explanation], max_writes: int = 40) -> None:
        """Append to history; draw at most ``max_writes`` (the newest) per call.

        Drawing a wrapped line costs ~1 ms; in a flood (hundreds of refusals per frame) the
        older ones would scroll out before anyone could read them, so one summary line
        stands in for them and the filter (f) can still redraw them from history.
        """
        self.history.extend(items)
        shown = [ex for ex in items if self.shows(ex)]
        skipped = len(shown) - max_writes
        if skipped > 0:
            self.write(Text(f"… {skipped} more in this instant (all in the journal)",
                            style="dim italic"))
            shown = shown[-max_writes:]
        for i, ex in enumerate(shown, start=1):
            self.write(self.line(ex), scroll_end=i == len(shown) and None)

    def shows(self, ex: Explanation) -> bool:
        allowed = FILTERS[self.filter_name]
        if allowed is not None and ex.kind not in allowed:
            return False
        return not self.search or self.search.casefold() in self.line(ex).plain.casefold()

    def set_filter(self, name: str) -> None:
        self.filter_name = name
        self.redraw()

    def set_search(self, text: str) -> None:
        """The / filter; "" clears it. Redraws from history only when it changed."""
        text = text.strip()
        if text != self.search:
            self.search = text
            self.redraw()

    def redraw(self) -> None:
        self._title()
        self.clear()
        shown = [ex for ex in self.history if self.shows(ex)]
        for ex in shown[-self.redraw_lines:]:
            self.write(self.line(ex))
        if not shown and self.search:
            self.write(Text(f"nothing in the last {len(self.history)} lines matches "
                            f"“{self.search}” (esc clears)", style="dim italic"))

    def next_filter(self) -> str:
        i = FILTER_ORDER.index(self.filter_name)
        self.set_filter(FILTER_ORDER[(i + 1) % len(FILTER_ORDER)])
        return self.filter_name

    def line(self, ex: Explanation) -> Text:
        color = self.app.theme_variables.get(_KIND_VAR.get(ex.kind, "foreground"), "white")
        t = Text()
        t.append(clock(ex.ts) + " ", style="dim")
        t.append(f"{ex.kind.value.upper():7}", style=f"bold {color}")
        who = " ".join(x for x in (ex.strategy, ex.symbol) if x)
        if who:
            t.append(f" {who}", style="italic")
        t.append(f" {ex.text}")
        if ex.rule:
            t.append(f" [{ex.rule}]", style="dim")
        return t
