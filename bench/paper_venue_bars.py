"""The paper venue's own cost per bar in a trading backtest, without the engine around it.

A random-walk 1m series (seeded) drives ``BacktestVenue`` the way ``tapedesk backtest`` does:
a stand-in for the order owner enters at market every ``--every`` flat bars, protects each
entry with a reduce-only stop and take-profit, cancels the survivor when one fills, and keeps
the desk's own books (``Portfolio``) from the fills. So the figure is the venue, its
``PositionBook`` and the desk's ``Portfolio``: triggers, fills, rounding, margin.

    python bench/paper_venue_bars.py [--bars 300000] [--every 12] [--repeat 3]

Prints best-of-N process CPU per bar and a checksum (fills, balance) that must not change
when the venue gets faster.
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal

from tapedesk.engine.backtest import BacktestVenue
from tapedesk.engine.events import (
    Bar,
    Fill,
    OrderIntent,
    OrderRole,
    OrderType,
    OrderUpdate,
)
from tapedesk.engine.portfolio import Portfolio

SYM = "BTCUSDT"


def bars(n: int, seed: int = 7) -> list[Bar]:
    rnd = random.Random(seed)
    px, out = 40_000.0, []
    for i in range(n):
        o = px
        c = max(1_000.0, o * (1 + rnd.gauss(0, 0.0012)))
        hi = max(o, c) * (1 + abs(rnd.gauss(0, 0.0006)))
        lo = min(o, c) * (1 - abs(rnd.gauss(0, 0.0006)))
        out.append(Bar(SYM, i * 60_000, i * 60_000 + 59_999, o, hi, lo, c, 1.0))
        px = c
    return out


class Owner:
    """Just enough of the order owner: protect an entry, cancel the survivor of an exit."""

    def __init__(self, venue: BacktestVenue) -> None:
        self.venue = venue
        self.portfolio = Portfolio(Decimal(10_000))
        self.spec = venue.spec(SYM)
        self.n = 0
        self.open: dict[str, str] = {}  # protective order -> its sibling
        self.fills = 0

    def on_order_update(self, update: OrderUpdate) -> None:
        return None

    def on_funding(self, symbol: str, amount: Decimal, rate: float, ts: int) -> None:
        self.portfolio.funding(symbol, amount)

    def on_fill(self, fill: Fill) -> None:
        self.fills += 1
        effect = self.portfolio.fill(fill, 5, "bench", self.spec)
        if effect.closed is not None:
            self.portfolio.close(effect.closed, fill, "exit", self.spec)
        if fill.role is OrderRole.ENTRY:
            long = fill.side == "BUY"
            exit_side = "SELL" if long else "BUY"
            stop = self.spec.round_price(float(fill.price) * (0.996 if long else 1.004))
            target = self.spec.round_price(float(fill.price) * (1.006 if long else 0.994))
            s, t = self._id(), self._id()
            self.open[s], self.open[t] = t, s
            self.venue.submit(OrderIntent(s, SYM, exit_side, OrderType.STOP_MARKET, fill.qty,
                                          OrderRole.STOP, fill.ts, stop_price=stop,
                                          reduce_only=True))
            self.venue.submit(OrderIntent(t, SYM, exit_side, OrderType.TAKE_PROFIT_MARKET,
                                          fill.qty, OrderRole.TAKE_PROFIT, fill.ts,
                                          stop_price=target, reduce_only=True))
        else:
            sibling = self.open.pop(fill.client_id, None)
            if sibling is not None:
                self.open.pop(sibling, None)
                self.venue.cancel(SYM, sibling)

    def _id(self) -> str:
        self.n += 1
        return f"b{self.n}"


def run(series: list[Bar], every: int) -> tuple[float, str]:
    venue = BacktestVenue(Decimal(10_000), latency_ms=0, fill_at="next-open",
                          slippage_bps=1.0, assumed_funding_bps_8h=1.0)
    venue.set_leverage(SYM, 5)
    owner = Owner(venue)
    venue.bind(owner)
    book = venue.book.positions
    flat_for = 0
    t0 = time.process_time()
    for i, bar in enumerate(series):
        venue.on_market(bar)
        if book:
            flat_for = 0
            if i % 8 == 0:  # the engine values its equity on signals and samples, not per bar
                owner.portfolio.unrealized(venue.last_price)
        elif not venue.orders:
            flat_for += 1
            if flat_for >= every:
                flat_for = 0
                side = "BUY" if owner.n % 2 == 0 else "SELL"
                venue.submit(OrderIntent(owner._id(), SYM, side, OrderType.MARKET,
                                         Decimal("0.010"), OrderRole.ENTRY, bar.ts))
    spent = time.process_time() - t0
    check = (f"fills {owner.fills} trades {len(owner.portfolio.trades)} "
             f"balance {venue.balance} desk {owner.portfolio.balance}")
    return spent, check


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=300_000)
    ap.add_argument("--every", type=int, default=12, help="flat bars before the next entry")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    series = bars(args.bars)
    best, check = min(run(series, args.every) for _ in range(args.repeat))
    print(f"paper venue: {args.bars:,} bars in {best:.3f} s CPU (best of {args.repeat}): "
          f"{best / args.bars * 1e6:.2f} us/bar, {args.bars / best:,.0f} bars/s")
    print(check)


if __name__ == "__main__":
    main()
