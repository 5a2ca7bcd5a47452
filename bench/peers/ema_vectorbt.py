"""Always-in EMA 12/26 cross in vectorbt, on the rules tapedesk's peer run uses.

Runs inside its own venv peer-vectorbt (made by bench/peers/compare.py), never in the
project's environment. Reads the bars compare.py exported and prints one JSON line.

Conventions made identical to tapedesk (docs/performance.md, "Peer comparison"):
- EMAs from vectorbt's own ``vbt.MA.run(..., ewm=True, adjust=False)`` (pandas-style
  ``adjust=False`` recursion, seeded with the first close; NaN before ``window`` bars,
  which are warm-up bars anyway).
- No signal before bar index ``slow``; a cross is a change of sign of fast - slow.
- ``from_signals`` at ``price=close``: a signal fills at its own bar's close.
- An opposite cross reverses (``upon_opposite_entry="reverse"``): one order of 2 in
  vectorbt's records; every order's size is whole units of qty 1, so the fills (exit +
  entry legs, as tapedesk and backtrader book them) are the summed order sizes.
- 4 bps of each order's value; no slippage, no funding; qty 1 (``size_type="amount"``).
- An exit on the last bar closes what is open at its close (tapedesk's "end of data").
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any


def _run(vbt: Any, np: Any, pd: Any, close: Any) -> tuple[float, float, int, int]:
    """Signals and portfolio; (net P&L, fees, fills, orders)."""
    fast = vbt.MA.run(close, 12, ewm=True, adjust=False).ma.to_numpy()
    slow = vbt.MA.run(close, 26, ewm=True, adjust=False).ma.to_numpy()
    diff = fast - slow
    # The sign a bar leaves behind: an exact tie keeps the previous sign (as tapedesk does).
    sign = np.sign(diff)
    sign = pd.Series(np.where(sign == 0, np.nan, sign)).ffill().fillna(0).to_numpy()
    prev = np.concatenate([[0.0], sign[:-1]])
    tradable = np.arange(len(close)) >= 26
    up = tradable & (diff > 0) & (prev <= 0)
    down = tradable & (diff < 0) & (prev >= 0)
    last = np.zeros(len(close), dtype=bool)
    last[-1] = True
    up[-1] = down[-1] = False
    pf = vbt.Portfolio.from_signals(
        close, entries=up, exits=last, short_entries=down, short_exits=last,
        price=close, size=1.0, size_type="amount", fees=0.0004, init_cash=1e9,
        upon_opposite_entry="reverse", accumulate=False, freq="1min",
    )
    net = float(pf.final_value() - 1e9)
    fees = float(pf.orders.fees.sum())
    fills = round(float(pf.orders.size.sum()))  # a reversal is one order of 2: two fills
    return net, fees, fills, int(pf.orders.count())


def main(path: str) -> None:
    t_start = time.perf_counter()
    import numpy as np
    import pandas as pd
    import vectorbt as vbt

    df = pd.read_csv(path)
    close = df["close"].astype(float)
    t0 = time.perf_counter()
    net, fees, fills, orders = _run(vbt, np, pd, close)
    cold_s = time.perf_counter() - t0  # includes numba compiling vectorbt's kernels
    t0 = time.perf_counter()
    net, fees, fills, orders = _run(vbt, np, pd, close)
    run_s = time.perf_counter() - t0
    print(json.dumps({
        "engine": f"vectorbt {vbt.__version__}", "bars": len(close), "net_pnl": net,
        "fees": fees, "fills": fills, "orders": orders, "run_s": run_s, "run_cold_s": cold_s,
        "process_s": time.perf_counter() - t_start,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
