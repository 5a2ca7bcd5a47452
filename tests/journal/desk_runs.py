"""Running the real `tapedesk` console script against a journal under attack."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

TAPEDESK = str(Path(sys.executable).with_name("tapedesk"))

CONFIG = """
[journal]
give_up_after_s = {give_up}

[[strategies]]
name = "ema_cross"

[[strategies]]
name = "liquidity_sweep"
"""


def write_config(path: Path, give_up: float = 600) -> Path:
    path.write_text(CONFIG.format(give_up=give_up))
    return path


def headless(cfg: Path, ddir: Path, data: Path, speed: str = "0") -> list[str]:
    return [TAPEDESK, "--config", str(cfg), "--data-dir", str(ddir), "run", "--headless",
            "--replay", str(data), "--speed", speed]  # fmt: skip


def start(cmd: list[str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def count(db: Path, table: str = "fills") -> int:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return 0


def wait_for_fills(db: Path, proc: subprocess.Popen[str], timeout: float = 60) -> int:
    """Until the running desk has committed a fill (the fault must land mid-run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        n = count(db)
        if n:
            return n
        time.sleep(0.05)
    raise AssertionError("the desk committed no fill in time")


def printed(stdout: str, kind: str) -> list[str]:
    """Headless lines of one explanation kind ("FILL", "TAKEN", "ERROR", ...)."""
    return [ln for ln in stdout.splitlines() if ln[21:30].strip() == kind]


def printed_fills(stdout: str) -> int:
    """Headless fill lines (funding payments share the FILL kind but are no fills)."""
    return sum(1 for ln in printed(stdout, "FILL") if not ln[30:].startswith("Funding"))


def assert_one_plain_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tapedesk: "), stderr
    return lines[0]
