"""DeskApp: the Textual desk embedding one engine.

The engine runs in a worker on the app's event loop; the UI never handles one message per
market event. It holds a bounded subscription and, at a fixed cadence (``fps``, default
10), drains it and takes one ``DeskSnapshot``, then paints all panes in one batch. Every
engine call from a key is a worker, so a slow venue cannot freeze the keyboard, and
``ctrl+x`` (priority binding, id ``emergency_stop``) reaches the engine from any screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from tapedesk.engine.events import Explanation, ExplanationKind, Fill, RoundTrip
from tapedesk.engine.snapshot import DeskSnapshot, DeskState, StateChanged
from tapedesk.themes import DEFAULT_THEME, DESK_VARIABLES, load_themes
from tapedesk.tui import position_actions
from tapedesk.tui.active_trade import ActiveTrade
from tapedesk.tui.dialog_text import quit_text, resume_text
from tapedesk.tui.explain_log import ExplainLog
from tapedesk.tui.keymap import help_rows, keymap_problems, keys_by_id
from tapedesk.tui.log_search import LogSearchScreen
from tapedesk.tui.screens import ChartScreen, ConfirmScreen, HelpScreen
from tapedesk.tui.status_header import StatusHeader
from tapedesk.tui.strategy_screen import StrategyScreen
from tapedesk.tui.trade_history import TradeHistory
from tapedesk.tui.trade_story_screen import TradeStoryScreen
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Sparkline

SPARK_EVERY_TICKS = 5  # the sparkline is a day-scale picture: ~2 redraws/s is plenty
#: Scrolling the log repaints its whole area (the costliest paint on the desk), so new lines
#: are flushed every 3rd frame (~3 times a second): still "at once" to a reader.
LOG_EVERY_TICKS = 3
DEFAULT_FPS = 10.0
RUN_EXIT_WAIT_S = 2.0
HANGUP_BACKSTOP_S = 10.0
MAX_FPS = 15.0
#: The journal setting holding ``[ui] theme`` as it was when a theme was picked with t.
THEME_CONFIG_KEY = "theme.config"
#: run_desk returns this when the user pressed d: the launcher restarts in demo mode.
DEMO_EXIT_CODE = 3



def _exit_backstop(code: int) -> None:
    """After SIGTERM/SIGHUP the process ends within HANGUP_BACKSTOP_S, clean or not.

    A terminal that takes no more output (frozen, or gone under tmux kill-session) blocks
    Textual's writer thread, then the event loop itself on the writer's full queue; the
    clean shutdown scheduled on that loop never runs. This daemon timer does not need it.
    """
    import threading

    global _backstop
    if _backstop is None:
        _backstop = threading.Timer(HANGUP_BACKSTOP_S, os._exit, args=(code,))
        _backstop.daemon = True
        _backstop.start()


_backstop: Any = None


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

class DeskApp(App[int]):
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

    # ---- engine lifecycle ---------------------------------------------------------------
    async def _boot(self) -> None:
        try:
            await self.engine.start()
        except Exception as exc:  # shown, never a crashed screen
            self._engine_error(f"Engine failed to start: {exc}")
            return
        self._sub = self.engine.subscribe(maxsize=self.subscribe_maxsize)
        try:
            await self._restore_theme()
            bell = await self.engine.get_setting("bell")
            if bell is not None and bell.lower() in ("off", "false", "0", "no"):
                self.bell_enabled = False
            trips = await self.engine.recent_trades(self.max_rows)
            exps = await self.engine.recent_explanations(200)
        except Exception as exc:
            self._engine_error(f"Could not read the journal: {exc}")
            trips, exps = [], []
        self.history.add_trips(sorted(trips, key=lambda t: t.exit_ts))
        self.explain.add(sorted(exps, key=lambda e: e.ts))
        self.theme_changed_signal.subscribe(self, self._persist_theme)
        self.engine_ready = True
        rec = getattr(self.engine, "reconciliation", None)
        if rec is not None and rec.blocked:
            from tapedesk.tui.reconcile_screen import ReconcileScreen

            self.push_screen(ReconcileScreen(self.engine))
        self._run_worker = self.run_worker(
            self._run_engine(), name="engine-run", group="engine", exit_on_error=False
        )
        self.refresh_view()

    async def _run_engine(self) -> None:
        try:
            await self.engine.run()
        except Exception as exc:
            if not self.engine_stopped:
                self._engine_error(f"Engine stopped with an error: {exc}")
            else:
                self.log.error(f"engine.run ended with {exc!r} during shutdown")
            return
        if not self.engine_stopped:
            self._local_log(ExplanationKind.DESK, "Market data ended; the desk is idle.")

    async def shutdown_engine(self) -> None:
        """Stop the engine once (journal flushed); safe to call from every exit path."""
        if self.engine_stopped:
            return
        self.engine_stopped = True
        if self._sub is not None:
            self._sub.close()
        # engine.stop() does not wait for run(): closing the journal under a running loop
        # makes run()'s last commit fail. So end the feed first and let run() finish its
        # own final commit (bounded wait: a live feed may sit in a blocking read), then stop.
        feed = getattr(self.engine, "feed", None)
        if feed is not None and hasattr(feed, "close") and self._run_worker is not None:
            with contextlib.suppress(Exception):
                await feed.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._run_worker.wait(), RUN_EXIT_WAIT_S)
        try:
            await self.engine.stop()
        except Exception as exc:
            self.log.error(f"engine.stop failed: {exc}")

    def _install_hangup_handlers(self) -> None:
        """Plain signal handlers, not loop.add_signal_handler: closing the loop would reset
        those to the default (die), and a second SIGHUP while the desk is tearing down would
        then kill it. These stay installed and do nothing once the loop is gone."""
        loop = asyncio.get_running_loop()

        def handler(signum: int, frame: Any) -> None:
            _exit_backstop(128 + signum)
            with contextlib.suppress(RuntimeError):  # loop closed: already shutting down
                loop.call_soon_threadsafe(self._on_hangup, signum == signal.SIGHUP)

        for sig in (signal.SIGHUP, signal.SIGTERM):
            signal.signal(sig, handler)

    def _on_hangup(self, terminal_gone: bool = True) -> None:
        """SIGHUP (terminal/SSH gone) or SIGTERM: stop the engine cleanly, then exit."""
        if self._hung_up:
            return
        self._hung_up = True
        self.run_worker(self._hangup_exit(terminal_gone), group="quit", exclusive=True)

    async def _hangup_exit(self, terminal_gone: bool) -> None:
        await self.shutdown_engine()
        if terminal_gone:
            # The journal is flushed and closed. Restoring a terminal that no longer exists
            # can block forever in Textual's writer thread (seen under tmux kill-server), so
            # leave now rather than hang with the engine already stopped.
            os._exit(0)
        self.exit(0, return_code=0)

    async def _shutdown_and_exit(self, code: int = 0) -> None:
        await self.shutdown_engine()
        self.exit(code, return_code=code)

    async def on_unmount(self) -> None:
        await self.shutdown_engine()

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

    @property
    def engine_running(self) -> bool:
        """Started here and not stopped: only then does this desk hold the venue."""
        return self.engine_ready and not self.engine_stopped

    @property
    def engine_start_failed(self) -> bool:
        worker = self._boot_worker
        return not self.engine_ready and worker is not None and worker.is_finished

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

    def _engine_call(self, coro: Any, what: str, group: str = "engine-call") -> None:
        async def call() -> None:
            try:
                await coro
            except Exception as exc:
                self._engine_error(f"{what} failed: {exc}")

        self.run_worker(call(), name=what, group=group, exit_on_error=False)

    async def _restore_theme(self) -> None:
        """A theme picked with t wins only while ``[ui] theme`` is what it was at the pick:
        once the config names another theme, the config wins and the pick is forgotten."""
        saved = await self.engine.get_setting("theme")
        if not saved:
            return
        if await self.engine.get_setting(THEME_CONFIG_KEY) != self.config_theme:
            await self.engine.set_setting("theme", "")
            return
        if saved in self.available_themes:
            self.theme = saved

    def _persist_theme(self, theme: Any) -> None:
        name = getattr(theme, "name", str(theme))
        if self.engine_ready and not self.engine_stopped:
            self._engine_call(self._save_theme(name), "saving the theme")

    async def _save_theme(self, name: str) -> None:
        await self.engine.set_setting(THEME_CONFIG_KEY, self.config_theme)
        await self.engine.set_setting("theme", name)

    # ---- actions ------------------------------------------------------------------------
    def action_emergency_stop(self) -> None:
        """No dialog: the header turns HALTED now; the engine's log lines tell each step."""
        if not self.engine_running:  # check_action gates the key; the palette comes here too
            self.action_estop_unavailable()
            return
        self.halting = True
        self._local_log(ExplanationKind.DESK,
                        "EMERGENCY STOP: halting entries → cancel all orders → close all "
                        "positions reduce-only → verify flat")
        if self.last_snapshot is not None:
            self.header.show(self.last_snapshot, notice=self.notice,
                                              halting=True)
        self.run_worker(self._estop(), name="emergency-stop", group="estop", exit_on_error=False)
        if self.bell_enabled:
            self.bell()

    def action_estop_unavailable(self) -> None:
        why = ("the engine is stopping" if self.engine_stopped
               else "the engine did not start" if self.engine_start_failed
               else "the engine is still starting")
        text = (f"Emergency stop not sent: {why}, so this desk holds no venue. "
                "A desk that is running elsewhere is not stopped from here.")
        self.notify(text, severity="error", markup=False, timeout=8)
        self.explain.add([Explanation(self.last_snapshot.now_ts if self.last_snapshot else 0,
                                      ExplanationKind.ERROR, text)])

    async def _estop(self) -> None:
        try:
            verified = await self.engine.emergency_stop()
        except Exception as exc:
            self._engine_error(f"Emergency stop raised: {exc} — the engine keeps retrying; "
                               "check the exchange")
            return
        # Only the engine that holds the venue can say it is flat: its answer, not ours.
        if verified is True:
            self._local_log(ExplanationKind.DESK, "EMERGENCY STOP complete: the venue verified "
                                                  "flat, no open orders. Press r to resume.")
            self.notify("HALTED — venue verified flat", severity="warning")
            return
        snap = self.engine.snapshot()
        still = ", ".join(snap.positions) or "unknown"
        self._engine_error("Emergency stop ended WITHOUT the venue confirming flat "
                           f"(positions in the desk's book: {still}). Entries stay halted; "
                           "check the exchange.")

    def action_toggle_pause(self) -> None:
        snap = self.last_snapshot
        if snap is not None and snap.paused:
            self._engine_call(self.engine.resume(), "resume")
        else:
            self._engine_call(self.engine.pause(), "pause")

    def action_close_position(self) -> None:
        position_actions.ask_close(self)

    def action_stop_to_breakeven(self) -> None:
        position_actions.stop_to_breakeven(self)

    def action_toggle_strategy(self, n: int) -> None:
        strategies = list(self.engine.strategies)
        if not 1 <= n <= len(strategies):
            self.notify(f"No strategy {n} (there are {len(strategies)})", severity="warning")
            return
        name = strategies[n - 1].name
        enabled = True
        if self.last_snapshot is not None:
            for st in self.last_snapshot.strategies:
                if st.index == n:
                    enabled = st.enabled
        self._engine_call(self.engine.set_strategy_enabled(name, not enabled), f"toggle {name}")
        self.notify(f"{name}: {'disabled' if enabled else 'enabled'}", markup=False, timeout=3)

    def enable_new_strategy(self, name: str) -> None:
        """A registered strategy the config did not load: the engine creates it with its
        default parameters and enables it (the strategy screen's enter)."""
        self._engine_call(self.engine.add_strategy(name), f"enable {name}")
        self.notify(f"{name}: enabled with its default parameters", markup=False, timeout=3)

    def action_strategies(self) -> None:
        self.push_screen(StrategyScreen())

    def action_chart(self) -> None:
        self.push_screen(ChartScreen(list(self.engine.equity_curve())))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_rows(self)))

    def action_log_filter(self) -> None:
        name = self.explain.next_filter()
        self.notify(f"Log filter: {name}", timeout=2)

    def action_log_search(self) -> None:
        self.push_screen(LogSearchScreen(self.explain))

    def action_log_search_clear(self) -> None:
        self.explain.set_search("")

    def on_trade_history_open(self, msg: TradeHistory.Open) -> None:
        self.push_screen(TradeStoryScreen(getattr(self.engine, "journal", None), msg.trade_id))

    def action_next_theme(self) -> None:
        names = self.desk_themes or ["textual-dark"]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"Theme: {self.theme}", timeout=2)

    def action_resume_halt(self) -> None:
        snap = self.last_snapshot
        if snap is None or not snap.halted:
            self.notify("The desk is not halted.", timeout=3)
            return

        def answered(yes: bool | None) -> None:
            now = self.last_snapshot
            if yes and now is not None and now.halted:
                self._engine_call(self.engine.resume_from_halt(), "resume from halt")

        self.push_screen(ConfirmScreen(
            *resume_text(snap), yes="Resume trading (y)", no="Stay halted (n)",
            live=resume_text,
        ), answered)

    async def action_quit(self) -> None:
        await self._leave(0)

    async def action_demo(self) -> None:
        if self.demo:
            self.notify("This is the demo already.", timeout=3)
            return
        await self._leave(DEMO_EXIT_CODE)

    async def _leave(self, code: int) -> None:
        snap = self.last_snapshot
        if snap is None or not snap.positions:
            await self._shutdown_and_exit(code)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._shutdown_and_exit(code), group="quit", exclusive=True)

        self.push_screen(ConfirmScreen(
            *quit_text(snap), yes="Quit anyway (y)", no="Stay (n)", live=quit_text,
        ), answered)

    # ---- command palette ----------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        k = keys_by_id(self)  # the keys as bound now ([ui.keymap] applied)

        def cmd(title: str, binding_id: str, help_text: str, callback: Any) -> SystemCommand:
            key = k.get(binding_id)
            return SystemCommand(f"{title} ({key})" if key else title, help_text, callback)

        if self.engine_running:  # never an emergency stop over an engine that is not running
            yield cmd("Emergency stop", "emergency_stop",
                      "Halt, cancel all, close all, verify flat", self.action_emergency_stop)
        yield cmd("Pause / resume entries", "pause", "Open trade still managed",
                  self.action_toggle_pause)
        yield cmd("Resume from halt", "resume_halt", "Asks to confirm", self.action_resume_halt)
        yield from position_actions.palette_commands(self, k.get)
        yield cmd("Strategies", "strategies", "Every registered strategy; enable any",
                  self.action_strategies)
        yield cmd("Equity chart", "chart", "Equity and drawdown", self.action_chart)
        yield cmd("Cycle log filter", "log_filter", "all / taken / refused / errors",
                  self.action_log_filter)
        yield cmd("Search the log", "log_search", "Filter the explanation log by text",
                  self.action_log_search)
        yield cmd("Next desk theme", "next_theme", "Remembered until [ui] theme changes",
                  self.action_next_theme)
        yield cmd("Desk keys", "help", "Every key, as bound now", self.action_help)
        for n, strat in enumerate(list(self.engine.strategies)[:9], start=1):
            yield cmd(f"Toggle strategy {n}: {strat.name}", f"toggle_strategy_{n}",
                      "Enable or disable", lambda n=n: self.action_toggle_strategy(n))


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
