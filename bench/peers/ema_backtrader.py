"""Always-in EMA 12/26 cross in backtrader, on the rules tapedesk's peer run uses.

Runs inside its own venv peer-backtrader (made by bench/peers/compare.py), never in the
project's environment. Reads the bars compare.py exported (the very bars tapedesk parsed)
and prints one JSON line: net P&L, fees, fills, bars/s, peak RSS.

Conventions made identical to tapedesk (docs/performance.md, "Peer comparison"):
- EMAs seeded with the first close (backtrader's own EMA seeds with an SMA of the first
  ``period`` closes, so a 4-line EMA replaces it); ``alpha = 2 / (n + 1)``.
- No signal before bar index ``slow`` (0-based); a cross is a change of sign of fast - slow.
- Cheat-on-close: the order placed on a bar fills at that bar's close.
- A reversal is two orders (close 1, then open 1 the other way): two fills.
- 4 bps of each fill's notional; no slippage, no funding; qty 1.
- What is open on the last bar is closed at its close (tapedesk's "end of data"). backtrader
  executes an order only on the bar after the one that placed it (cheat-on-close included),
  so an order placed on the last bar never fills; that one close is booked by this script
  in ``stop()``: 4 bps of its notional off the broker's value, one more fill.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import backtrader as bt


class FirstCloseEMA(bt.Indicator):
    lines = ("ema",)
    params = (("period", 12),)

    def __init__(self) -> None:
        self.alpha = 2.0 / (self.p.period + 1.0)

    def nextstart(self) -> None:  # first bar: seed with the close
        self.lines.ema[0] = self.data[0]

    def next(self) -> None:
        prev = self.lines.ema[-1]
        self.lines.ema[0] = prev + self.alpha * (self.data[0] - prev)


class AlwaysInCross(bt.Strategy):
    params = (("fast", 12), ("slow", 26))

    def __init__(self) -> None:
        self.fast = FirstCloseEMA(self.data.close, period=self.p.fast)
        self.slow = FirstCloseEMA(self.data.close, period=self.p.slow)
        self.prev = 0.0
        self.fills = 0
        self.fees = 0.0

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            self.fills += 1
            self.fees += order.executed.comm

    def next(self) -> None:
        i = len(self.data) - 1
        diff = self.fast[0] - self.slow[0]
        prev, self.prev = self.prev, (diff if diff != 0 else self.prev)
        if i < self.p.slow or diff == 0 or (diff > 0) == (prev > 0):
            return
        if self.position:
            self.close()
        if diff > 0:
            self.buy(size=1)
        else:
            self.sell(size=1)


    def stop(self) -> None:
        """End of data: the close backtrader cannot execute, booked at the last close."""
        self.end_fee = abs(self.position.size) * self.data.close[0] * COMMISSION
        if self.position:
            self.fills += 1
            self.fees += self.end_fee


COMMISSION = 0.0004


def main(path: str) -> None:
    t_start = time.perf_counter()
    with open(path) as fh:
        n_bars = sum(1 for _ in fh) - 1
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.GenericCSVData(
        dataname=path, dtformat="%Y-%m-%d %H:%M:%S", datetime=0, open=2, high=3, low=4,
        close=5, volume=6, openinterest=-1, timeframe=bt.TimeFrame.Minutes,
    ))
    cerebro.addstrategy(AlwaysInCross)
    cerebro.broker.setcash(1e9)
    cerebro.broker.set_coc(True)
    cerebro.broker.setcommission(commission=COMMISSION)  # percent of value, stock-like
    t0 = time.perf_counter()
    strat = cerebro.run()[0]
    run_s = time.perf_counter() - t0
    net = cerebro.broker.getvalue() - 1e9 - strat.end_fee
    print(json.dumps({
        "engine": f"backtrader {bt.__version__}", "bars": n_bars, "net_pnl": net,
        "fees": strat.fees, "fills": strat.fills, "run_s": run_s,
        "process_s": time.perf_counter() - t_start,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
