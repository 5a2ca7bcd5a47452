"""What the desk's keys and command palette do: emergency stop, pause, resume from halt,
strategies, position keys, log filter and search, theme, help, quit and demo.

A base class of ``DeskApp`` (app.py): the bindings stay there, with the panes and state these
use; every engine call goes through its ``_engine_call`` worker, so a key never waits on the
venue.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tapedesk.engine.events import Explanation, ExplanationKind
from tapedesk.tui import position_actions
from tapedesk.tui.dialog_text import quit_text, resume_text
from tapedesk.tui.keymap import help_rows, keys_by_id
from tapedesk.tui.log_search import LogSearchScreen
from tapedesk.tui.screens import ChartScreen, ConfirmScreen, HelpScreen
from tapedesk.tui.strategy_screen import StrategyScreen
from tapedesk.tui.trade_history import TradeHistory
from tapedesk.tui.trade_story_screen import TradeStoryScreen
from textual.app import SystemCommand
from textual.screen import Screen

#: run_desk returns this when the user pressed d: the launcher restarts in demo mode.
DEMO_EXIT_CODE = 3


class DeskActions:
    """DeskApp's ``action_*`` handlers, the trade-history row's open and the command palette."""

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

