"""The desk's engine, as the app runs it: start it in a worker and read the journal's recent
trades and lines, run it, stop it exactly once (journal flushed) on every exit path,
hang-up and SIGTERM included, run each engine call as a worker, keep the theme picked with t.

A base class of ``DeskApp`` (app.py), which owns the panes and state named here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

from tapedesk.engine.events import ExplanationKind

RUN_EXIT_WAIT_S = 2.0
HANGUP_BACKSTOP_S = 10.0
#: The journal setting holding ``[ui] theme`` as it was when a theme was picked with t.
THEME_CONFIG_KEY = "theme.config"


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


class EngineWiring:
    """Start, run and stop of DeskApp's engine and its calls (uses the app's ``engine``,
    panes, ``_local_log`` and ``_engine_error``)."""

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

    @property
    def engine_running(self) -> bool:
        """Started here and not stopped: only then does this desk hold the venue."""
        return self.engine_ready and not self.engine_stopped

    @property
    def engine_start_failed(self) -> bool:
        worker = self._boot_worker
        return not self.engine_ready and worker is not None and worker.is_finished

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
