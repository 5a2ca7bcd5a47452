"""Start-up cost of the commands typed in a hurry: `tapedesk --help`, `status`, `halt`.

    python bench/startup.py [--runs 7]

Each command is run ``runs`` times in a fresh process (its own empty TAPEDESK_HOME, so
status/halt find no desk and answer at once), interleaved with a bare ``python -c pass`` so a
load change on a shared machine hits both alike; the median wall time is printed beside the
bare interpreter's and as a multiple of it (issue 10's target: <= 4x), with the range of the
per-round ratios, then the heaviest imports of ``tapedesk --help`` from
``python -X importtime``. Prints; asserts nothing.
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


def wall_s(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    return time.perf_counter() - t


def measure(exe: str, env: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Wall times per command over ``runs`` rounds, each round: bare python, then each."""
    cmds = {"python -c pass": [sys.executable, "-c", "pass"],
            "tapedesk --help": [exe, "--help"], "tapedesk status": [exe, "status"],
            "tapedesk halt": [exe, "halt"]}
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            times[name].append(wall_s(cmd, env))
    return times


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
        times = measure(exe, env, args.runs)
        base = times["python -c pass"]
        print(f"python {platform.python_version()}, {os.cpu_count()} cores, median of "
              f"{args.runs} interleaved runs")
        print(f"{'command':<22} {'seconds':>8} {'x python -c pass':>17} {'range of x':>12}")
        for name, ts in times.items():
            ratios = [t / b for t, b in zip(ts, base, strict=True)]
            print(f"{name:<22} {statistics.median(ts):>8.3f} "
                  f"{statistics.median(ts) / statistics.median(base):>17.1f} "
                  f"{min(ratios):>5.1f}-{max(ratios):<5.1f}")
        print("\nheaviest imports of `tapedesk --help` (cumulative ms):")
        for us, name in heaviest_imports(env):
            print(f"  {us / 1000:8.1f}  {name}")


if __name__ == "__main__":
    main()
