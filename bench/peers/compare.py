"""Peer comparison: the always-in EMA 12/26 cross in tapedesk, backtrader and vectorbt.

    python bench/peers/compare.py [--bars-csv PATH] [--skip-install]

1. Exports the bundled 1m sample exactly as tapedesk parses it to bench/out/sample_1m.csv,
   so all three engines see the same 45,031 bars.
2. Makes bench/out/venv-backtrader and bench/out/venv-vectorbt (``python -m venv`` +
   ``pip install backtrader`` / ``vectorbt``) if absent: peers are never project
   dependencies.
3. Runs the tapedesk command (below) and each peer script in its own process, measuring
   wall time and peak RSS of that process (``os.wait4``), and prints the side-by-side table.
4. Exits 1 if net P&L or fees differ by a cent or more, or the fill counts differ.

The rules each engine is held to are in docs/performance.md ("Peer comparison").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"
HERE = Path(__file__).resolve().parent
TAPEDESK = [
    "backtest", "--data", "sample:1m", "--strategy", "ema_cross", "--param", "fast=12",
    "--param", "slow=26", "--param", "reverse=true", "--param", "stop_pct=0",
    "--fill-at", "close", "--fixed-qty", "1", "--fee-bps", "4", "--slippage-bps", "0",
    "--funding-bps", "0", "--no-risk", "--initial-balance", "1e9", "--json",
]
PEERS = {"backtrader": "ema_backtrader.py", "vectorbt": "ema_vectorbt.py"}


def export_bars(path: Path) -> int:
    """The sample's bars as tapedesk reads them: open time, OHLCV (repr floats, lossless)."""
    sys.path.insert(0, str(ROOT))
    from tapedesk.engine.clock import iso
    from tapedesk.engine.feeds import load_bars
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M

    bars = load_bars(SAMPLE_BARS_1M)
    with path.open("w") as fh:
        fh.write("datetime,open_ts,open,high,low,close,volume\n")
        for b in bars:
            fh.write(f"{iso(b.open_ts)[:19]},{b.open_ts},{b.open!r},{b.high!r},{b.low!r},"
                     f"{b.close!r},{b.volume!r}\n")
    return len(bars)


def tapedesk_engine_seconds() -> float:
    """The same run through ``run_backtest`` with the bars already in memory (engine only)."""
    from decimal import Decimal

    from tapedesk.engine.backtest import run_backtest
    from tapedesk.engine.feeds import load_bars
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M
    from tapedesk.engine.strategy import create

    bars = load_bars(SAMPLE_BARS_1M)
    strat = create("ema_cross", fast=12, slow=26, reverse=True, stop_pct=0)
    t0 = time.perf_counter()
    run_backtest(bars, [strat], fill_at="close", fee_bps=4.0, slippage_bps=0.0,
                 funding_bps=0.0, fixed_qty=Decimal(1), no_risk=True,
                 initial_balance=Decimal(10**9))
    return time.perf_counter() - t0


def ensure_venv(name: str) -> Path:
    venv = OUT / f"venv-{name}"
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"making {venv} (pip install {name}) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", name], check=True)
    return py


def measured(cmd: list[str]) -> tuple[str, float, float]:
    """stdout, wall seconds and peak RSS (MiB) of one child process."""
    log = OUT / "child.out"
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: exit {os.waitstatus_to_exitcode(status)}")
    return log.read_text(), wall, usage.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["tapedesk", *PEERS], action="append")
    ap.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--engine-seconds", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    # Helpers run in child processes: this process stays small, because a child's peak RSS
    # (ru_maxrss) starts at its parent's size when it is forked.
    if args.export:
        print(export_bars(args.export))
        return 0
    if args.engine_seconds:
        print(tapedesk_engine_seconds())
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    csv = OUT / "sample_1m.csv"
    me = [sys.executable, str(Path(__file__).resolve())]
    n = int(subprocess.run([*me, "--export", str(csv)], check=True, capture_output=True,
                           text=True).stdout)
    rows = []
    which = args.only or ["tapedesk", *PEERS]
    if "tapedesk" in which:
        exe = Path(sys.executable).with_name("tapedesk")
        # Its own data dir: the saved result stays in bench/out, not the user's desk.
        text, wall, rss = measured([str(exe), "--data-dir", str(OUT / "home"), *TAPEDESK])
        doc = json.loads(text)
        m = doc["metrics"]
        rows.append({"engine": "tapedesk", "net_pnl": m["net_pnl"], "fees": m["fees"],
                     "fills": 2 * m["trades"], "run_s": float(subprocess.run(
                         [*me, "--engine-seconds"], check=True, capture_output=True, text=True
                     ).stdout),
                     "process_s": wall,
                     "peak_rss_mib": rss, "bars": m["total_bars"]})
    for name, script in PEERS.items():
        if name not in which:
            continue
        py = ensure_venv(name)
        text, wall, rss = measured([str(py), str(HERE / script), str(csv)])
        row = json.loads(text.strip().splitlines()[-1])
        row.update(process_s=wall, peak_rss_mib=rss)
        rows.append(row)
    print(f"always-in EMA 12/26 cross, {n:,} bundled 1m bars, fills at the signal bar's close, "
          "qty 1, 4 bps fees, no slippage, no funding")
    print(f"{'engine':<22} {'net P&L':>12} {'fees':>11} {'fills':>6} {'run bars/s':>11} "
          f"{'process bars/s':>15} {'peak RSS MiB':>13}")
    for r in rows:
        run = f"{r['bars'] / r['run_s']:,.0f}"
        print(f"{r['engine']:<22} {r['net_pnl']:>12,.2f} {r['fees']:>11,.2f} {r['fills']:>6} "
              f"{run:>11} {r['bars'] / r['process_s']:>15,.0f} {r['peak_rss_mib']:>13,.0f}")
        if r.get("run_cold_s"):
            print(f"{'  (first run, numba compiling)':<43} {r['bars'] / r['run_cold_s']:>11,.0f}")
    print("run bars/s: the engine's own loop, data in memory (vectorbt: second run); process "
          "bars/s: the whole process, start-up and reading the file included")
    ref = rows[0]
    ok = all(
        round(r["net_pnl"], 2) == round(ref["net_pnl"], 2)
        and round(r["fees"], 2) == round(ref["fees"], 2)
        and r["fills"] == ref["fills"]
        for r in rows
    )
    print("agree to the cent: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
