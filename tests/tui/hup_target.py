"""Runs the desk in a terminal for test_sighup: writes a marker when the engine has stopped.

    python3 tests/tui/hup_target.py MARKER
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tapedesk.tui.app import run_desk

from tests.tui.real_engine import hup_engine


def main() -> None:
    marker = Path(sys.argv[1])
    (marker.parent / "pid").write_text(str(os.getpid()))
    engine = hup_engine(marker)
    try:
        code = run_desk(engine, demo=True)
    except BaseException as exc:
        with marker.open("a") as fh:
            fh.write(f" raised={exc!r}")
        raise
    with marker.open("a") as fh:
        fh.write(f" exit={code}")


if __name__ == "__main__":
    main()
