"""The `tapedesk` console script: the engine's CLI with the Textual desk plugged in.

engine/ never imports tui/, so the CLI lives in the engine and receives the desk as a
callable; Textual is imported only when a desk is actually opened.
"""

from __future__ import annotations

import sys
from typing import Any

#: How long the process waits for stray threads after the desk closed before it leaves anyway.
LINGER_S = 3.0


def _run_desk(engine: Any, *, demo: bool, notice: str | None = None, loop: Any = None) -> int:
    """``loop``: a live desk runs on the loop its account was prepared on (engine.live_loop)."""
    from tapedesk.engine.desk_lock import DeskRunning, lock_desk, release_desk
    from tapedesk.engine.desk_log import route_logs_to_file
    from tapedesk.engine.paths import log_file
    from tapedesk.tui.app import DEMO_EXIT_CODE, run_desk

    ddir = engine.journal.path.parent
    # nothing may draw over the app; the log is named after the desk's journal
    route_logs_to_file(log_file(ddir, engine.journal.path.stem), engine)
    code = _journal_verdict(engine, run_desk(engine, demo=demo, notice=notice, loop=loop))
    if code == DEMO_EXIT_CODE and not demo:
        # The user pressed d (offline demo) on a desk that had no market data.
        from tapedesk.engine.assembly import build_demo_engine

        release_desk(ddir, engine.mode)  # that desk has stopped: its journal is free
        try:
            lock_desk(ddir, "demo")
        except DeskRunning as exc:
            print(f"tapedesk: {exc}", file=sys.stderr)
            return _leave(2)
        demo_engine = build_demo_engine(ddir, engine.config)
        route_logs_to_file(log_file(ddir, "demo"), demo_engine)
        code = _journal_verdict(demo_engine, run_desk(demo_engine, demo=True))
    return _leave(code)


def _check_config(config: Any) -> None:
    from tapedesk.tui.app import check_desk_config

    check_desk_config(config)


#: The CLI calls this with the loaded config before it builds anything (engine.cli_dispatch).
_run_desk.check_config = _check_config  # type: ignore[attr-defined]


def _journal_verdict(engine: Any, code: int) -> int:
    """A desk that quit while its journal could not be written says, in one line, what is
    on disk and what is not (as the headless desk does), and exits 1."""
    from tapedesk.engine.journal_health import committed_counts

    health = getattr(engine, "journal_health", None)
    if health is None or not health.failing:
        return code
    print(f"tapedesk: {health.summary(engine._pending, committed_counts(health.path))}",
          file=sys.stderr)
    return code or 1


def _leave(code: int) -> int:
    """After the last app: make sure the process ends.

    The apps' SIGTERM/SIGHUP handlers outlive them and would swallow those signals, and a
    non-daemon thread still alive (an unclosed journal's aiosqlite worker, a plugin's
    thread) would keep the interpreter waiting at exit forever with SIGTERM ignored. Every
    journal write is its own committed transaction, so leaving without joining such a
    thread loses nothing; the log file names what was left behind.
    """
    import logging
    import os
    import signal
    import threading
    import time

    from tapedesk.engine.desk_log import flush_logs

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    deadline = time.monotonic() + LINGER_S
    while time.monotonic() < deadline:
        stuck = [
            t for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()
        ]
        if not stuck:
            return code
        stuck[0].join(max(deadline - time.monotonic(), 0.01))
    logging.getLogger(__name__).warning(
        "leaving with %d thread(s) still running: %s", len(stuck), ", ".join(t.name for t in stuck)
    )
    flush_logs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    from tapedesk.engine.cli import main as cli_main

    return cli_main(argv, desk_runner=_run_desk)


if __name__ == "__main__":
    sys.exit(main())
