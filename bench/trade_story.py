"""How long a trade's story takes to read: in-process ``load_story`` (what the desk's screen
and the HTTP API call) for every trade of a journal, and ``tapedesk trades --id N`` wall
clock as a user runs it (Python start-up included, which dominates).

The journal is made the real way: `tapedesk run --headless --replay` over DAYS days of the
bundled 1m bars, in a temp data dir.

    python bench/trade_story.py [DAYS] [N]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tapedesk.engine.journal import open_readonly  # noqa: E402
from tapedesk.engine.trade_story import ReadOnlyJournal, load_story  # noqa: E402

from tests.engine.helpers import write_sample_csv  # noqa: E402


def main(days: int = 7, n: int = 5) -> None:
    exe = shutil.which("tapedesk") or "tapedesk"
    with tempfile.TemporaryDirectory() as tmp:
        data = write_sample_csv(Path(tmp) / "b.csv", days=days)
        ddir = Path(tmp) / "d"
        env = {**os.environ, "XDG_STATE_HOME": tmp, "XDG_CONFIG_HOME": tmp}
        base = [exe, "--data-dir", str(ddir)]
        subprocess.run([*base, "run", "--headless", "--replay", str(data), "--speed", "0"],
                       check=True, stdout=subprocess.DEVNULL, env=env)
        db = ddir / "paper.db"
        counts = {t: sqlite3.connect(db).execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("trades", "decisions", "orders", "fills", "explanations")}
        print(f"journal: {days} days replayed, {db.stat().st_size / 1e6:.1f} MB, rows {counts}")
        conn = open_readonly(db)
        ids = [r[0] for r in conn.execute("SELECT id FROM trades ORDER BY id")]

        async def read_all() -> list[float]:
            journal, out = ReadOnlyJournal(conn), []
            for tid in ids:
                t0 = time.perf_counter()
                await load_story(journal, tid)
                out.append((time.perf_counter() - t0) * 1000)
            return out

        ms = asyncio.run(read_all())
        conn.close()
        print(f"load_story: {len(ms)} trades, median {statistics.median(ms):.2f} ms, "
              f"max {max(ms):.2f} ms")
        walls = []
        for _ in range(n):
            t0 = time.perf_counter()
            subprocess.run([*base, "trades", "--id", str(ids[len(ids) // 2])], check=True,
                           stdout=subprocess.DEVNULL, env=env)
            walls.append((time.perf_counter() - t0) * 1000)
        print(f"tapedesk trades --id: median {statistics.median(walls):.0f} ms of {n} runs")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
