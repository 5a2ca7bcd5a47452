"""Measure every row of the README's Performance table and print it in the README's markdown.

    python bench/performance_table.py [--runs 3] [--only whole,engine,memory,startup]
                                      [--big 5000000]

Each row is run ``--runs`` times and printed as the range over those runs (lowest–highest).
"whole command" rows time the ``tapedesk backtest`` process from start to exit (start-up,
reading the file, strategies, risk, paper venue, metrics, saving the result) on the bundled
real 1m sample tiled to 1 M (and ``--big``) bars on disk (bench/out/, written once; see
backtest_throughput.py), with peak RSS from ``os.wait4``; "columnar copy" rows first run the
command once untimed so the copy under the data dir (bench/out/home) exists. "engine only"
rows are bench/backtest_throughput.py --materialize (the bars already in a list). "memory"
rows are whole-command runs at ``--big`` bars that trade without end (``--no-risk
--fixed-qty 0.01 --no-margin-check``, each built-in and ``all``): their peak RSS is issue
10's <= 150 MiB. Start-up rows are bench/startup.py's interleaved ratio to a bare
``python -c pass``.

bars/s is wall-clock (what a user waits for); in brackets the same over the process's CPU
time (user + system), which a busy machine disturbs less. Bytecode caching is on (as in an
installed package), whatever the calling shell says. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
HOME = OUT / "home"
sys.path.insert(0, str(BENCH))

# An installed package runs from compiled bytecode (pip compiles it; Python caches it on first
# import): a shell with PYTHONDONTWRITEBYTECODE=1 would recompile ~90 modules on every timed
# run (~0.2 s), which no user pays. Every command below runs with bytecode caching on.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

TRADING = ("--no-risk", "--fixed-qty", "0.01")
EVERY_BAR = "yes (`--no-risk`)"


@dataclass
class Row:
    kind: str  # whole | engine | memory | startup
    options: tuple[str, ...] = ()
    bars: int = 1_000_000
    cache: bool = False
    every_bar: str = EVERY_BAR
    note: str = ""


def rows(big: int) -> list[Row]:
    out: list[Row] = []
    for name in ("ema_cross", "grid", "mean_reversion", "liquidity_sweep"):
        opts = ("--strategy", name, *TRADING)
        out += [Row("whole", opts, cache=True), Row("whole", opts), Row("engine", opts)]
    quiet = ("--strategy", "ema_cross", "--no-risk", "--fixed-qty", "0.001")
    note = "every entry refused (0.001 BTC is under Binance's 100 USDT minimum): no fills"
    out += [Row("whole", quiet, cache=True, note=note), Row("whole", quiet, note=note),
            Row("engine", quiet, note=note)]
    desk = ("--strategy", "ema_cross")
    out += [Row("whole", desk, cache=True, every_bar="no (desk risk rules: day lock)"),
            Row("whole", desk, every_bar="no (desk risk rules: day lock)")]
    both = ("--strategy", "all", *TRADING)
    out += [Row("whole", both, cache=True, note="book_imbalance skipped (bars only)"),
            Row("whole", both, note="book_imbalance skipped (bars only)")]
    desk_rules = "no (desk risk rules: day lock)"
    for name in ("ema_cross", "all"):  # memory: the tapedesk backtest a user types
        out += [Row("whole", ("--strategy", name), bars=big, cache=True, every_bar=desk_rules),
                Row("whole", ("--strategy", name), bars=big, every_bar=desk_rules)]
    for name in ("ema_cross", "grid", "mean_reversion", "liquidity_sweep", "all"):
        # memory of a run that trades without end (issue 10: <= 150 MiB at 5 M bars)
        out.append(Row("memory", ("--strategy", name, *TRADING, "--no-margin-check"), bars=big,
                       cache=True, note="trades without end (no margin check)"))
    out += [Row("startup", (cmd,)) for cmd in ("--help", "status", "halt")]
    return out


def tiled(n: int) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"tiled_{n}_1m.csv"
    if not path.exists():
        subprocess.run([sys.executable, str(BENCH / "backtest_throughput.py"), "--write-tiled",
                        str(n), str(path)], check=True)
    return path


def whole_command(row: Row) -> tuple[str, list[float], list[float], float]:
    """(command, wall bars/s per run, CPU bars/s per run, peak RSS MiB)."""
    exe = str(Path(sys.executable).with_name("tapedesk"))
    path = tiled(row.bars)
    cmd = [exe, "--data-dir", str(HOME), "backtest", "--data", str(path), "--no-progress",
           *row.options, *(() if row.cache else ("--no-cache",))]
    log, err = OUT / "performance_table.out", OUT / "performance_table.err"
    if row.cache:  # writes the copy
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    walls, cpus, rss = [], [], 0.0
    for _ in range(RUNS):
        t = time.perf_counter()
        with log.open("w") as fh, err.open("w") as fe:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=fe)
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"{' '.join(cmd)} failed: see {log} and {err}")
        seen = re.search(r"of ([\d,]+) bars", log.read_text())
        if seen is None or int(seen.group(1).replace(",", "")) != row.bars:
            raise SystemExit(f"{' '.join(cmd)} did not read all {row.bars:,} bars")
        walls.append(row.bars / wall)
        cpus.append(row.bars / (usage.ru_utime + usage.ru_stime))
        rss = max(rss, usage.ru_maxrss / 1024)
    shown = ["tapedesk backtest --data", f"bench/out/tiled_{row.bars}_1m.csv", "--no-progress",
             *row.options]
    if not row.cache:
        shown.append("--no-cache")
    return " ".join(shown), walls, cpus, rss


def engine_only(row: Row) -> tuple[str, list[float], list[float], float]:
    opts = [o for o in row.options if o != "--strategy"]
    args = ["--bars", str(row.bars), "--materialize", "--strategy", opts[0], *opts[1:]]
    walls, cpus, rss = [], [], 0.0
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, str(BENCH / "backtest_throughput.py"), *args],
                             capture_output=True, text=True, check=True).stdout
        m = re.search(r"= ([\d,]+) bars/s .*CPU [\d.]+ s = ([\d,]+) bars/s", out)
        peak = re.search(r"peak RSS: ([\d,]+) MiB", out)
        if m is None or peak is None:
            raise SystemExit(f"unexpected output of backtest_throughput.py:\n{out}")
        walls.append(float(m.group(1).replace(",", "")))
        cpus.append(float(m.group(2).replace(",", "")))
        rss = max(rss, float(peak.group(1).replace(",", "")))
    return "python bench/backtest_throughput.py " + " ".join(args), walls, cpus, rss


def startup(rows_: list[Row]) -> list[str]:
    import tempfile

    from startup import measure

    exe = str(Path(sys.executable).with_name("tapedesk"))
    with tempfile.TemporaryDirectory() as home:
        times = measure(exe, {**os.environ, "TAPEDESK_HOME": home}, max(RUNS, 5))
    base = times["python -c pass"]
    lines = []
    for row in rows_:
        name = f"tapedesk {row.options[0]}"
        ratios = [t / b for t, b in zip(times[name], base, strict=True)]
        lines.append(f"| start-up | `{name}` (bench/startup.py) | empty data dir | – | "
                     f"{_range(ratios, '{:.1f}')}× a bare `python -c pass` "
                     f"({_range(times[name], '{:.3f}')} s) | – |")
    return lines


def _range(values: list[float], fmt: str = "{:,.0f}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else \
        f"{fmt.format(lo)}–{fmt.format(hi)}"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()}; load average {load:.1f} when the table started")


RUNS = 3


def main() -> None:
    global RUNS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="whole,engine,memory,startup")
    ap.add_argument("--big", type=int, default=5_000_000, help="bars of the memory rows")
    args = ap.parse_args()
    RUNS = args.runs
    kinds = set(args.only.split(","))
    print(f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {machine()}; "
          f"range over {RUNS} runs.\n")
    print("| what | command | data | strategy called on every bar | bars/s, wall (CPU) | "
          "peak RSS |")
    print("|---|---|---|---|---|---|")
    todo = rows(args.big)
    for row in todo:
        if row.kind not in kinds or row.kind == "startup":
            continue
        whole = row.kind in ("whole", "memory")
        what = {"whole": "whole command, " + ("columnar copy" if row.cache else "CSV text"),
                "memory": "whole command, columnar copy, memory",
                "engine": "engine only, bars in memory"}[row.kind]
        cmd, walls, cpus, rss = (whole_command if whole else engine_only)(row)
        every = row.every_bar + (f"; {row.note}" if row.note else "")
        data = f"{row.bars:,} tiled real 1m bars" + (" (CSV, 64 B/line)" if whole else "")
        print(f"| {what} | `{cmd}` | {data} | {every} | {_range(walls)} ({_range(cpus)}) | "
              f"{rss:,.0f} MiB |", flush=True)
    if "startup" in kinds:
        for line in startup([r for r in todo if r.kind == "startup"]):
            print(line, flush=True)
    print("\nbench/out/tiled_<n>_1m.csv: the bundled real 1m sample tiled to n bars, written "
          "by the first run (`python bench/backtest_throughput.py --write-tiled <n> <path>`).")


if __name__ == "__main__":
    main()
