"""The `tapedesk` console script: the engine's CLI with the Textual desk plugged in.

engine/ never imports tui/, so the CLI lives in the engine and receives the desk as a
callable; Textual is imported only when a desk is actually opened.
"""

from __future__ import annotations

import sys
from typing import Any


def _run_desk(engine: Any, *, demo: bool, notice: str | None = None, loop: Any = None) -> int:
    """``loop``: a live desk runs on the loop its account was prepared on (engine.live_loop)."""
    from tapedesk.tui.app import DEMO_EXIT_CODE, run_desk

    code = run_desk(engine, demo=demo, notice=notice, loop=loop)
    if code == DEMO_EXIT_CODE and not demo:
        # The user pressed d (offline demo) on a desk that had no market data.
        from tapedesk.engine.assembly import build_demo_engine

        demo_engine = build_demo_engine(engine.journal.path.parent, engine.config)
        code = run_desk(demo_engine, demo=True)
    return code


def main(argv: list[str] | None = None) -> int:
    from tapedesk.engine.cli import main as cli_main

    return cli_main(argv, desk_runner=_run_desk)


if __name__ == "__main__":
    sys.exit(main())
