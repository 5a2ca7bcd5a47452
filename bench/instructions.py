"""Instructions executed by an engine-only backtest: a speed figure a shared machine cannot blur.

CPU seconds on a machine shared by several jobs move by +-3 % between identical runs, which
hides any single step smaller than that. Counted instructions (valgrind's callgrind, hash
seed fixed) repeat to ~0.001 %, so a change of 0.1 % is visible. The run is
``bench/backtest_throughput.py`` (bars tiled in memory, no file reading, no start-up noise)
under callgrind, ~50x slower than native: 150,000 bars take ~45 s.

    python bench/instructions.py [--bars 150000] [--strategy ema_cross] [--risk] [--copy]
                                 [--default-gc]

Default ``--no-risk --fixed-qty 0.01`` (the trading run of issue #10); ``--risk`` drops both.
The run uses the command's garbage-collector policy (``backtest_cli.run_gc``); counts made
before 2026-11-28 08:20 UTC used CPython's default, under which the collector's share moved
with every change in the pattern of allocations (``--default-gc`` counts that way).
Compare two trees by running it in each (the modules are compiled before the counted run, so
a freshly edited file does not count its own compilation). Counting the whole ``tapedesk
backtest`` command this way does not repeat: its data-file copy is not read the same way
every run; ``--copy`` counts the engine fed as that command feeds it the second time, from
the tiled bars' binary copy (written first, in a temporary directory, not counted). Prints
figures; asserts nothing; needs valgrind (says so and exits 0 without).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=150_000)
    ap.add_argument("--strategy", default="ema_cross")
    ap.add_argument("--risk", action="store_true", help="risk rules on, risk sizing")
    ap.add_argument("--copy", action="store_true",
                    help="bars read from their binary copy, as `tapedesk backtest` reads them")
    ap.add_argument("--default-gc", action="store_true",
                    help="CPython's default collector policy, not the command's")
    args = ap.parse_args()
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind is not installed: no instruction count (apt-get install valgrind)")
        return
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiling every module would be counted
    subprocess.run([sys.executable, "-c", "import tapedesk.engine.backtest, "
                    "tapedesk.engine.engine"], check=True, env=env, cwd=ROOT)
    run = [sys.executable, str(ROOT / "bench" / "backtest_throughput.py"),
           "--bars", str(args.bars), "--strategy", args.strategy]
    if not args.risk:
        run += ["--no-risk", "--fixed-qty", "0.01"]
    if args.default_gc:
        run.append("--default-gc")
    with tempfile.TemporaryDirectory() as tmp:
        if args.copy:
            run += ["--from-copy", tmp]
            subprocess.run([*run, "--prepare"], check=True, env=env, cwd=ROOT)
        out = subprocess.run([valgrind, "--tool=callgrind",
                              f"--callgrind-out-file={tmp}/cg.out", *run],
                             capture_output=True, text=True, env=env, cwd=ROOT)
    refs = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    trades = re.search(r"\(strategy .*?\)", out.stdout)
    if out.returncode or refs is None:
        print(f"the counted run failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
        sys.exit(1)
    total = int(refs.group(1).replace(",", ""))
    print(f"{args.strategy}, {args.bars:,} bars{'' if args.risk else ', --no-risk 0.01'}"
          f"{', from the copy' if args.copy else ''} "
          f"{trades.group(0) if trades else ''}: {total / 1e6:,.1f} M instructions, "
          f"{total / args.bars:,.0f} per bar")


if __name__ == "__main__":
    main()
