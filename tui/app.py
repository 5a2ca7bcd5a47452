"""DeskApp: the Textual desk embedding one engine.

The engine runs in a worker on the app's event loop; the UI never handles one message per
market event. It holds a bounded subscription and, at a fixed cadence (``fps``, default
10), drains it and takes one ``DeskSnapshot``, then paints all panes in one batch. Every
engine call from a key is a worker, so a slow venue cannot freeze the keyboard, and
``ctrl+x`` (priority binding, id ``emergency_stop``) reaches the engine from any screen.

Here: the bindings, the layout and the throttled view. What the keys do is desk_actions,
how the engine is started, run and stopped is engine_wiring (both base classes of DeskApp).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from tapedesk.engine.events import Explanation, ExplanationKind, Fill, RoundTrip
from tapedesk.engine.snapshot import DeskSnapshot, DeskState, StateChanged
from tapedesk.themes import DEFAULT_THEME, DESK_VARIABLES, load_themes
from tapedesk.tui.active_trade import ActiveTrade
from tapedesk.tui.desk_actions import DEMO_EXIT_CODE, DeskActions
from tapedesk.tui.engine_wiring import EngineWiring
from tapedesk.tui.explain_log import ExplainLog
from tapedesk.tui.keymap import keymap_problems
from tapedesk.tui.screens import ConfirmScreen
from tapedesk.tui.status_header import StatusHeader
from tapedesk.tui.strategy_screen import StrategyScreen
from tapedesk.tui.trade_history import TradeHistory
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Sparkline

SPARK_EVERY_TICKS = 5  # the sparkline is a day-scale picture: ~2 redraws/s is plenty
#: Scrolling the log repaints its whole area (the costliest paint on the desk), so new lines
#: are flushed every 3rd frame (~3 times a second): still "at once" to a reader.
LOG_EVERY_TICKS = 3
DEFAULT_FPS = 10.0
MAX_FPS = 15.0

# launch.py and tests import DEMO_EXIT_CODE from here; the actions that use it moved.
__all__ = ["DEMO_EXIT_CODE", "DeskApp", "check_desk_config", "desk_bindings", "make_app",
           "run_desk"]


def desk_bindings() -> list[Binding]:
    """Every binding of the desk's App (its own and Textual's), before any keymap."""
    return [b for bs in DeskApp._merge_bindings().key_to_bindings.values() for b in bs]


def check_desk_config(config: Any) -> None:
    """``[ui.keymap]`` names the desk's binding ids: checked before anything starts, one
    line per problem (the CLI prints ConfigError that way, exit 2)."""
    from tapedesk.engine.config import ConfigError

    problems = keymap_problems(config.ui.keymap, desk_bindings())
    if problems:
        raise ConfigError("\n".join(f"config: {p}" for p in problems))


class DeskApp(DeskActions, EngineWiring, App[int]):
    CSS_PATH = "desk.tcss"
    TITLE = "Tapedesk"
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (120, "-wide")]
    BINDINGS: ClassVar = [
        Binding("ctrl+x", "emergency_stop", "E-STOP", priority=True, id="emergency_stop",
                tooltip="Halt entries, cancel all, close everything, verify flat"),
        # Same key, shown nowhere: runs only when the binding above is disabled (no engine
        # running here), to say so instead of pretending to stop something.
        Binding("ctrl+x", "estop_unavailable", "E-STOP", show=False, priority=True,
                id="estop_unavailable"),
        Binding("p", "toggle_pause", "Pause", id="pause"),
        Binding("s", "strategies", "Strategies", id="strategies"),
        Binding("r", "resume_halt", "Resume", id="resume_halt"),
        Binding("t", "next_theme", "Theme", id="next_theme"),
        Binding("c", "chart", "Chart", id="chart"),
        Binding("f", "log_filter", "Filter", id="log_filter"),
        Binding("slash", "log_search", "Search", key_display="/", id="log_search"),
        Binding("escape", "log_search_clear", "Clear search", show=False,
                id="log_search_clear"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("d", "demo", "Demo", show=False, id="demo"),
        Binding("x", "close_position", "Close", show=False, id="close_position"),
        Binding("b", "stop_to_breakeven", "Break-even", show=False, id="stop_to_breakeven"),
        *[
            Binding(str(n), f"toggle_strategy({n})", f"Toggle strategy {n}", show=False,
                    id=f"toggle_strategy_{n}")
            for n in range(1, 10)
        ],
    ]

    def __init__(
        self,
        engine: Any,
        *,
        demo: bool = False,
        notice: str | None = None,
        fps: float | None = None,
        bell: bool | None = None,
        themes_dir: Path | None = None,
        max_rows: int = 200,
        log_lines: int = 500,
        subscribe_maxsize: int = 2000,
        handle_signals: bool = False,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.demo = demo
        self.notice = notice
        ui = getattr(getattr(engine, "config", None), "ui", None)  # engine.config.DeskConfig.ui
        # Never above MAX_FPS whatever the config says: frames cost the engine's loop time.
        self.fps = min(MAX_FPS, fps or getattr(ui, "fps", DEFAULT_FPS))
        self.bell_enabled = bell if bell is not None else bool(getattr(ui, "bell", True))
        self.config_theme: str = getattr(ui, "theme", DEFAULT_THEME)
        self.config_keymap: dict[str, str] = dict(getattr(ui, "keymap", None) or {})
        problems = keymap_problems(self.config_keymap, desk_bindings())
        if problems:  # check_desk_config refuses these before the desk opens; tests build here
            raise ValueError("\n".join(problems))
        self.themes_dir = themes_dir
        self.max_rows = max_rows
        self.log_lines = log_lines
        self.subscribe_maxsize = subscribe_maxsize
        self.handle_signals = handle_signals
        self.desk_themes: list[str] = []
        self.last_snapshot: DeskSnapshot | None = None
        self.engine_ready = False
        self.engine_stopped = False
        self.halting = False
        self.flush_log_now = False  # tests and screenshots: no waiting for the log cadence
        self.ticks = 0
        self.frame_times: list[float] = []  # seconds per refresh, read by bench/ui_throughput.py
        self.events_seen = 0
        self._sub: Any = None
        self._run_worker: Any = None
        self._spark_sig: tuple[int, float] | None = None
        self._pending_log: list[Explanation] = []
        self._hung_up = False
        self._estop_offered = False
        self._boot_worker: Any = None

    # ---- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # Kept as attributes: App.query_one searches the *active* screen, which is a modal
        # whenever help, a confirm or the palette is open, and the desk must keep painting.
        self.header = StatusHeader(id="header")
        self.trade_pane = ActiveTrade(id="trade")
        self.spark = Sparkline([], id="pnl")
        self.history = TradeHistory(max_rows=self.max_rows, id="history")
        self.explain = ExplainLog(max_lines=self.log_lines, id="log")
        yield self.header
        with Vertical(id="body"):
            with Vertical(id="left"):
                yield self.trade_pane
                yield self.spark
                yield self.history
            yield self.explain
        yield Footer()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DESK_VARIABLES)

    def on_mount(self) -> None:
        if self.config_keymap:
            self.set_keymap(self.config_keymap)
        loaded = load_themes(self.themes_dir)
        for theme in loaded.themes:
            self.register_theme(theme)
            self.desk_themes.append(theme.name)
        for err in loaded.errors:
            self.notify(f"Theme skipped: {err}", severity="error", markup=False, timeout=10)
        if self.config_theme in self.available_themes:
            self.theme = self.config_theme
        else:
            self.theme = DEFAULT_THEME if DEFAULT_THEME in self.desk_themes else "textual-dark"
        self.spark.border_title = "Equity"
        self.header.show(None, notice=self.notice)
        if self.handle_signals:
            self._install_hangup_handlers()
        self._boot_worker = self.run_worker(self._boot(), name="engine-boot", group="engine",
                                            exit_on_error=False)
        self.set_interval(1 / self.fps, self.refresh_view, name="desk-refresh")

    # ---- the throttled view -------------------------------------------------------------
    def refresh_view(self) -> None:
        """Drain engine events and repaint every pane once; runs at ``fps``."""
        if not self.engine_ready or self.engine_stopped:
            return
        start = asyncio.get_running_loop().time()
        events = self._sub.drain()
        snap = self.engine.snapshot()
        self.ticks += 1
        self.events_seen += len(events)
        exps: list[Explanation] = []
        trips: list[RoundTrip] = []
        ring = False
        for ev in events:
            if isinstance(ev, Explanation):
                exps.append(ev)
            elif isinstance(ev, RoundTrip):
                trips.append(ev)
            elif isinstance(ev, Fill) or (isinstance(ev, StateChanged) and ev.state in (
                DeskState.HALTED, DeskState.DAY_LOCKED
            )):
                ring = True
        if snap.state is DeskState.HALTED:
            self.halting = False
        self.last_snapshot = snap
        with self.batch_update():
            self._paint(snap, exps, trips)
        if ring and self.bell_enabled:
            self.bell()
        errors = [e for e in exps if e.kind is ExplanationKind.ERROR]
        if errors:  # one toast per frame, however many errors arrived in it
            more = f" (+{len(errors) - 1} more in the log)" if len(errors) > 1 else ""
            self.notify(errors[-1].text + more, title="Engine", severity="error",
                        markup=False, timeout=8)
        self.frame_times.append(asyncio.get_running_loop().time() - start)
        if len(self.frame_times) > 10_000:
            del self.frame_times[:5_000]

    def _paint(self, snap: DeskSnapshot, exps: list[Explanation], trips: list[RoundTrip]) -> None:
        log = self.explain
        self.header.show(
            snap, notice=self.notice, halting=self.halting, log_filter=log.filter_name
        )
        self.trade_pane.show(snap)
        if trips:
            self.history.add_trips(trips)
        if exps:
            self._pending_log.extend(exps)
            del self._pending_log[: -log.history.maxlen]
        if self._pending_log and (self.ticks % LOG_EVERY_TICKS == 0 or self.flush_log_now):
            log.add(self._pending_log)
            self._pending_log = []
        if self.ticks % SPARK_EVERY_TICKS == 1 or trips:
            self._paint_sparkline()
        if isinstance(self.screen, StrategyScreen | ConfirmScreen):
            self.screen.show(snap)  # dialogs describe the desk as it is now, not as it was
        self._sync_estop_binding()

    def _paint_sparkline(self) -> None:
        curve = self.engine.equity_curve()
        sig = (len(curve), curve[-1][1] if curve else 0.0)
        if sig == self._spark_sig:
            return
        self._spark_sig = sig
        spark = self.spark
        width = max(10, spark.size.width - 2)
        values = [v for _, v in curve]
        if len(values) > width * 2:  # downsample: the strip is a picture, not the data
            step = len(values) / (width * 2)
            values = [values[int(i * step)] for i in range(width * 2)] + [values[-1]]
        spark.data = values  # a new list: Sparkline only redraws on assignment

    # ---- helpers ------------------------------------------------------------------------
    def _local_log(self, kind: ExplanationKind, text: str) -> None:
        """A line from the desk itself, after everything the engine has said so far."""
        if self.engine_ready and not self.engine_stopped:
            self.refresh_view()  # drain the engine's lines first, so the order is true
        ts = self.last_snapshot.now_ts if self.last_snapshot else 0
        self._pending_log.append(Explanation(ts=ts, kind=kind, text=text))
        self.explain.add(self._pending_log)
        self._pending_log = []

    def _engine_error(self, text: str) -> None:
        self.notify(escape(text), severity="error", timeout=10)
        self._local_log(ExplanationKind.ERROR, text)
        self._sync_estop_binding()

    def _sync_estop_binding(self) -> None:
        """Footer and palette follow whether an emergency stop is on offer."""
        if self._estop_offered != self.engine_running:
            self._estop_offered = self.engine_running
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "emergency_stop":
            return self.engine_running
        if action == "estop_unavailable":
            return not self.engine_running
        return True


def make_app(engine: Any, **opts: Any) -> DeskApp:
    """The one way to build the desk: used by run_desk, tests and screenshots/."""
    return DeskApp(engine, **opts)


def run_desk(engine: Any, *, demo: bool, notice: str | None = None, loop: Any = None) -> int:
    """Run the desk in this terminal until quit or hang-up; returns the exit code. ``loop``:
    the event loop a live engine was prepared on (its HTTP sessions belong to it)."""
    journal_path = getattr(getattr(engine, "journal", None), "path", None)
    themes_dir = Path(journal_path).parent / "themes" if journal_path else None
    app = make_app(engine, demo=demo, notice=notice, handle_signals=True, themes_dir=themes_dir)
    code = app.run(loop=loop)
    return int(code or app.return_code or 0)
