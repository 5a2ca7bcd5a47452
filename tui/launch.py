"""The `tapedesk` console script: the engine's CLI with the Textual desk plugged in.

engine/ never imports tui/, so the CLI lives in the engine and receives the desk as a
callable; Textual is imported only when a desk is actually opened.
"""

from __future__ import annotations

import sys
from typing import Any


def _run_desk(engine: Any, *, demo: bool, notice: str | None = None) -> int:
    from tui.app import run_desk

    return run_desk(engine, demo=demo, notice=notice)


def main(argv: list[str] | None = None) -> int:
    from engine.cli import main as cli_main

    return cli_main(argv, desk_runner=_run_desk)


if __name__ == "__main__":
    sys.exit(main())
