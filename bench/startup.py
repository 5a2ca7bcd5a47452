"""Start-up cost of the commands typed in a hurry: `tapedesk --help`, `status`, `halt`.

    python bench/startup.py [--runs 7]

Each command is run ``runs`` times in a fresh process (its own empty TAPEDESK_HOME, so
status/halt find no desk and answer at once); the median wall time is printed beside a bare
``python -c pass`` and as a multiple of it (issue 10's target: <= 4x), then the heaviest
imports of ``tapedesk --help`` from ``python -X importtime``. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_s(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def heaviest_imports(env: dict[str, str], top: int = 8) -> list[tuple[int, str]]:
    """(cumulative µs, module) of the top-level imports ``tapedesk --help`` pays for."""
    code = "import sys; sys.argv=['tapedesk','--help']; from tapedesk.tui.launch import main; main()"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env,
                         capture_output=True, text=True, check=False).stderr
    rows = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip())) // 2  # 0: imported by the script itself
            if depth <= 2 and name.strip() not in ("site", "encodings"):
                rows.append((int(parts[1]), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("tapedesk"))
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "TAPEDESK_HOME": home}
        base = median_s([sys.executable, "-c", "pass"], env, args.runs)
        print(f"python {platform.python_version()}, {os.cpu_count()} cores, median of "
              f"{args.runs} runs")
        print(f"{'command':<22} {'seconds':>8} {'x python -c pass':>17}")
        print(f"{'python -c pass':<22} {base:>8.3f} {1.0:>17.1f}")
        for cmd in (["--help"], ["status"], ["halt"]):
            s = median_s([exe, *cmd], env, args.runs)
            print(f"{'tapedesk ' + ' '.join(cmd):<22} {s:>8.3f} {s / base:>17.1f}")
        print("\nheaviest imports of `tapedesk --help` (cumulative ms):")
        for us, name in heaviest_imports(env):
            print(f"  {us / 1000:8.1f}  {name}")


if __name__ == "__main__":
    main()
