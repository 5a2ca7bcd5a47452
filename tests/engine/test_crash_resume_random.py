"""Resume equals an uninterrupted run: headless replays SIGKILLed at seeded random moments.

What the user runs (`tapedesk run --headless --replay FILE --speed 0`, the console script)
is killed 1-3 times per trial at random moments, then run to the end; its journal must then
hold exactly the fills, round trips, day counters (locked days included: the config locks a
day after one or two losses) and balance of a run that was never interrupted.

A trial that fails prints its seed; rerun one with TAPEDESK_CRASH_SEED=<seed>. More trials
by hand: TAPEDESK_CRASH_TRIALS=50 python -m pytest -q tests/engine/test_crash_resume_random.py
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from tapedesk.engine.sample_data import SAMPLE_STREAM

from tests.engine.helpers import write_sample_csv
from tests.journal.desk_runs import printed_fills

TRIALS = int(os.environ.get("TAPEDESK_CRASH_TRIALS", "8"))
SEED = int(os.environ.get("TAPEDESK_CRASH_SEED", "20261127"))
TAPEDESK = str(Path(sys.executable).with_name("tapedesk"))

# Both strategies read the position book while they run and liquidity_sweep keeps a
# cooldown: exactly the state a warm-up replay used to get wrong after locked days.
CONFIG = """
[risk]
daily_loss_cap = 45
daily_profit_lock = 60

[[strategies]]
name = "ema_cross"

[[strategies]]
name = "liquidity_sweep"
"""
# The bundled Binance stream capture (quotes, trades, depth; many events share a
# millisecond, so a resume must continue after the exact event, not the timestamp).
STREAM_CONFIG = """
[[strategies]]
name = "book_imbalance"

[[strategies]]
name = "ema_cross"
"""


def _cmd(cfg: Path, ddir: Path, data: Path) -> list[str]:
    return [TAPEDESK, "--config", str(cfg), "--data-dir", str(ddir), "run", "--headless",
            "--replay", str(data), "--speed", "0"]  # fmt: skip


def journal_state(ddir: Path) -> dict[str, object]:
    """Everything a resumed run must reproduce, read as another shell would."""
    with closing(sqlite3.connect(f"file:{ddir / 'paper.db'}?mode=ro", uri=True)) as conn:
        q = conn.execute
        ck = q("SELECT engine_state FROM checkpoint").fetchone()
        return {
            "fills": q(
                "SELECT ts, symbol, side, qty, price, fee, role FROM fills ORDER BY ts, id"
            ).fetchall(),
            "trades": q(
                "SELECT symbol, side, qty, entry_price, exit_price, entry_ts, exit_ts, pnl, "
                "fees, funding, strategy, reason FROM trades ORDER BY exit_ts, id"
            ).fetchall(),
            "days": q("SELECT * FROM daily_state ORDER BY day").fetchall(),
            "balance": json.loads(ck[0])["balance"] if ck else None,
            # position_id is the opening order's client id: per process, like the client
            # ids the fills above leave out, so not part of what a resume must reproduce.
            "positions": [{k: v for k, v in p.items() if k != "position_id"}
                          for p in json.loads(ck[0])["positions"]] if ck else None,
        }


def committed_fills(ddir: Path) -> int:
    """Fills on disk (0 when killed before the journal even had its tables)."""
    try:
        return len(journal_state(ddir)["fills"])
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module", params=["1m bars", "stream capture"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, dict, float, int]:
    root = tmp_path_factory.mktemp("crash")
    cfg = root / "config.toml"
    if request.param == "1m bars":
        data = write_sample_csv(root / "btc_1m.csv", days=28, start="2022-01-01")
        cfg.write_text(CONFIG)
        trials = TRIALS
    else:
        data = SAMPLE_STREAM
        cfg.write_text(STREAM_CONFIG)
        trials = max(2, TRIALS // 4)
    ref = root / "reference"
    t0 = time.monotonic()
    done = subprocess.run(_cmd(cfg, ref, data), capture_output=True, text=True, timeout=300)
    took = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    expected = journal_state(ref)
    assert len(expected["fills"]) >= 3, "the sample must trade to be a test"
    if request.param == "1m bars":
        assert len(expected["trades"]) > 30
        assert sum(d[5] for d in expected["days"]) > 10, "locked days must be part of the test"
    return cfg, Path(data), expected, took, trials


def crash_trial(cfg: Path, data: Path, ddir: Path, rng: random.Random, took: float) -> int:
    """Kill a run 1-3 times at random moments, then finish it; returns kills mid-run.

    After every kill, the fills the runs printed so far must all be in the journal:
    nothing is announced before its commit (it may be committed and not yet printed).
    """
    kills = printed = 0
    for n in range(rng.randint(1, 3)):
        out = ddir.parent / f"{ddir.name}-run{n}.out"
        with open(out, "w") as stdout:  # a file, not a pipe: a full pipe would pace the run
            proc = subprocess.Popen(_cmd(cfg, ddir, data), stdout=stdout, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.05, 1.2) * took)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            _, err = proc.communicate()
        assert b"Traceback" not in err, err.decode()
        printed += printed_fills(out.read_text())
        assert printed <= committed_fills(ddir), "a fill was printed before its commit"
    done = subprocess.run(_cmd(cfg, ddir, data), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return kills


def test_sigkilled_replays_resume_to_the_uninterrupted_result(
    setup: tuple[Path, Path, dict, float, int], tmp_path: Path
) -> None:
    cfg, data, expected, took, trials = setup
    kills = 0
    for trial in range(trials):
        seed = SEED + trial
        ddir = tmp_path / f"trial{trial}"
        kills += crash_trial(cfg, data, ddir, random.Random(seed), took)
        got = journal_state(ddir)
        for key in ("fills", "trades", "days", "balance", "positions"):
            assert got[key] == expected[key], f"trial seed {seed}: {key} differ"
    print(f"{data.name}: {trials} trials, {kills} kills mid-run: every journal = the reference")
    assert kills >= trials // 2, "most kills must land mid-run, or the test proves little"
