"""A headless replay killed with SIGKILL mid-run resumes from its journal: no fill lost or
duplicated compared with a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.engine.helpers import write_sample_csv

FILL_COLS = "ts, symbol, side, qty, price, fee, role"


def _cmd(data: Path, ddir: Path, speed: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tapedesk.tui.launch",
        "--data-dir",
        str(ddir),
        "run",
        "--headless",
        "--replay",
        str(data),
        "--speed",
        speed,
    ]


def _fills(ddir: Path) -> list[tuple]:
    with sqlite3.connect(ddir / "paper.db") as conn:
        return conn.execute(f"SELECT {FILL_COLS} FROM fills ORDER BY id").fetchall()


def _count(ddir: Path) -> int:
    try:
        with sqlite3.connect(ddir / "paper.db", timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM fills").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_mid_replay_then_restart_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data = write_sample_csv(tmp_path / "btc_1m.csv", days=4)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    ref = tmp_path / "reference"
    subprocess.run(_cmd(data, ref, "0"), check=True, capture_output=True, env=env, timeout=120)
    expected = _fills(ref)
    assert len(expected) > 20, len(expected)

    crashed = tmp_path / "crashed"
    # 5,760 one-minute bars at 40,000x take about 8.6 s: long enough to kill mid-run.
    proc = subprocess.Popen(
        _cmd(data, crashed, "40000"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    deadline = time.monotonic() + 60
    while _count(crashed) < len(expected) // 3 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _count(crashed)
    assert 0 < partial < len(expected), "the kill must land mid-replay"

    done = subprocess.run(
        _cmd(data, crashed, "0"), capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Resumed from the journal" in done.stdout
    got = _fills(crashed)
    assert got == expected
    assert len(set(got)) == len(got)
