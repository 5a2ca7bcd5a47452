"""How long the `tapedesk` commands beside a running desk take, wall clock, as a user runs them.

Starts `tapedesk run --headless --replay` (bundled sample, 3 days, 3000x) in a temp data dir,
then times: a second desk being refused, `status --json`, `halt` (until verified flat),
`resume --yes`, and a frozen (SIGSTOPped) desk's refusal. Each figure is the median of N runs
and includes Python start-up, which dominates.

    python bench/desk_cli_latency.py [N]
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engine.helpers import write_sample_csv  # noqa: E402


def main(n: int = 5) -> None:
    exe = shutil.which("tapedesk") or "tapedesk"
    with tempfile.TemporaryDirectory() as tmp:
        data = write_sample_csv(Path(tmp) / "b.csv", days=3)
        ddir = Path(tmp) / "d"
        env = {**os.environ, "XDG_STATE_HOME": tmp, "XDG_CONFIG_HOME": tmp}
        base = [exe, "--data-dir", str(ddir)]
        desk = subprocess.Popen(
            [*base, "run", "--headless", "--replay", str(data), "--speed", "3000"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            while not (ddir / "paper.sock").exists():
                time.sleep(0.05)
            runs = {
                "second desk refused": [*base, "run", "--headless", "--replay", str(data)],
                "status --json": [*base, "status", "--json"],
                "halt (verified flat)": [*base, "halt"],
                "resume --yes": [*base, "resume", "--yes"],
                "paths": [*base, "paths"],
            }
            for name, argv in runs.items():
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    subprocess.run(argv, capture_output=True, env=env, timeout=120)
                    times.append(time.perf_counter() - t0)
                print(f"{name:24s} median {statistics.median(times) * 1000:7.0f} ms  (n={n})")
            os.kill(desk.pid, signal.SIGSTOP)
            t0 = time.perf_counter()
            out = subprocess.run(runs["second desk refused"], capture_output=True, env=env)
            took = (time.perf_counter() - t0) * 1000
            print(f"{'frozen desk, newcomer':24s} {took:14.0f} ms  exit {out.returncode}")
            os.kill(desk.pid, signal.SIGCONT)
        finally:
            desk.terminate()
            desk.wait(60)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
