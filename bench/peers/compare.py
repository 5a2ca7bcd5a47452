"""Peer comparison: the always-in EMA 12/26 cross in tapedesk, backtrader and vectorbt.

    python bench/peers/compare.py [--venvs DIR] [--only ENGINE]

1. Exports the bundled 1m sample exactly as tapedesk parses it to bench/out/sample_1m.csv,
   so all three engines see the same 45,031 bars.
2. Makes DIR/peer-backtrader and DIR/peer-vectorbt (``python -m venv`` + ``pip install
   backtrader`` / ``vectorbt``; DIR defaults to bench/out) if absent: peers are never
   project dependencies.
3. Runs the tapedesk command (below) and each peer script in its own process, measuring
   wall time and peak RSS of that process (``os.wait4``), and prints the side-by-side
   table of docs/performance.md, "Agreement with other engines" (markdown, as pasted there).
4. Exits 1 if net P&L or fees differ by a cent or more, or the fill counts differ.

tapedesk's fills are the venue's own count (``"fills"`` in ``--json``), not twice the
round trips. The rules each engine is held to are in docs/performance.md.
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


def ensure_venv(name: str, where: Path) -> Path:
    venv = where / f"peer-{name}"
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"making {venv} (pip install {name}) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", name], check=True)
    return py


def measured(cmd: list[str]) -> tuple[str, float, float]:
    """stdout, wall seconds and peak RSS (MiB) of one child process."""
    log, err = OUT / "child.out", OUT / "child.err"
    t0 = time.perf_counter()
    with log.open("w") as fh, err.open("w") as eh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=eh, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: exit {os.waitstatus_to_exitcode(status)}\n"
                         f"{err.read_text()[-2000:]}")
    return log.read_text(), wall, usage.ru_maxrss / 1024


def table(rows: list[dict], n: int) -> str:
    """The markdown table docs/performance.md shows ("Agreement with other engines")."""
    out = [f"Always-in EMA 12/26 cross, {n:,} bundled 1m bars, fills at the signal bar's "
           "close, qty 1, 4 bps fees, no slippage, no funding.", "",
           "| engine | net P&L | fees | fills | engine bars/s (data in memory) "
           "| whole process bars/s | peak RSS |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        run = f"{r['bars'] / r['run_s']:,.0f}"
        if r.get("run_cold_s"):
            run += f" (first run, numba compiling: {r['bars'] / r['run_cold_s']:,.0f})"
        out.append(f"| {r['engine']} | {r['net_pnl']:,.2f} | {r['fees']:,.2f} | "
                   f"{r['fills']:,} | {run} | {r['bars'] / r['process_s']:,.0f} | "
                   f"{r['peak_rss_mib']:,.0f} MiB |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["tapedesk", *PEERS], action="append")
    ap.add_argument("--venvs", type=Path, default=OUT,
                    help="folder of the peers' venvs peer-<name> (default bench/out)")
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
        from importlib.metadata import version

        rows.append({"engine": f"tapedesk {version('tapedesk')}", "net_pnl": m["net_pnl"],
                     "fees": m["fees"], "fills": doc["fills"], "run_s": float(subprocess.run(
                         [*me, "--engine-seconds"], check=True, capture_output=True, text=True
                     ).stdout),
                     "process_s": wall,
                     "peak_rss_mib": rss, "bars": m["total_bars"]})
    for name, script in PEERS.items():
        if name not in which:
            continue
        py = ensure_venv(name, args.venvs)
        text, wall, rss = measured([str(py), str(HERE / script), str(csv)])
        row = json.loads(text.strip().splitlines()[-1])
        row.update(process_s=wall, peak_rss_mib=rss)
        rows.append(row)
    print(table(rows, n))
    ref = rows[0]
    ok = all(
        round(r["net_pnl"], 2) == round(ref["net_pnl"], 2)
        and round(r["fees"], 2) == round(ref["fees"], 2)
        and r["fills"] == ref["fills"]
        for r in rows
    )
    print("\nagree to the cent (net P&L, fees, fills): " + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
