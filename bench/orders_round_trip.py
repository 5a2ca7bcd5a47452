"""The order owner's own cost per round trip. Prints figures; asserts nothing.

    python bench/orders_round_trip.py [round trips per batch, default 1000]

``Orders`` (the real owner, real PositionBook and BTCUSDT spec) is driven through what a
trading backtest asks of it per trade: the entry sent and acknowledged, filled, a stop and a
target placed and acknowledged, 20 bars of timer checks, then half the trades closed by a
strategy exit and half by the stop, the other protective order cancelled. The venue answers
at once and does nothing else, so the figure is the owner's cost plus ~10 us of fixtures
(Signal/Decision/Fill/OrderUpdate objects, PositionBook.apply, the spec's rounding).
Best of 40 batches, CPU time.
"""
import sys
import time
from decimal import Decimal

from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import (
    Decision,
    Fill,
    Liquidity,
    OrderRole,
    OrderStatus,
    OrderUpdate,
    Side,
    Signal,
)
from tapedesk.engine.orders import Orders
from tapedesk.engine.positions import PositionBook
from tapedesk.engine.symbols import spec_for


class Clock:
    t = 0

    def now(self) -> int:
        return self.t


class Venue:
    """Acknowledges every order at once; a cancel of a live order reports CANCELED."""

    def __init__(self) -> None:
        self.sink = None
        self.live: dict = {}

    def submit(self, i) -> None:
        self.live[i.client_id] = i
        self.sink.on_update(OrderUpdate(i.client_id, i.symbol, OrderStatus.NEW, clock.t))

    def cancel(self, sym: str, cid: str) -> None:
        if self.live.pop(cid, None) is not None:
            self.sink.on_update(OrderUpdate(cid, sym, OrderStatus.CANCELED, clock.t))


clock, venue, book = Clock(), Venue(), PositionBook()
spec = spec_for("BTCUSDT")
o = Orders(venue=venue, clock=clock, book=book, spec=lambda s: spec, cfg=RiskConfig(),
           record=None, explain=lambda *a, **k: None)
venue.sink = o
SYM = "BTCUSDT"


def fill(intent, price: str) -> None:
    """What the paper venue and the engine do with a fill, in their order."""
    venue.live.pop(intent.client_id, None)
    f = Fill(intent.client_id, SYM, intent.side, intent.qty, Decimal(price), Decimal("0.01"),
             clock.t, Liquidity.TAKER, intent.role)
    o.on_update(OrderUpdate(intent.client_id, SYM, OrderStatus.FILLED, clock.t,
                            filled_qty=intent.qty, avg_price=f.price))
    o.plan_for(f)
    eff = book.apply(f, 5)
    o.after_fill(f, eff)
    if eff.closed is not None:
        o.reason_for(f)


def round_trip(k: int) -> None:
    clock.t += 60_000
    o.working_entry(SYM)
    sig = Signal("ema_cross", SYM, Side.LONG, clock.t, 40000.0, 39800.0, 40400.0)
    o.enter(sig, Decision(sig, True, Decimal("0.010"), 5))
    entry = o.open[o.plans[SYM].entry_id]
    clock.t += 60_000
    fill(entry, "40000.0")
    for _ in range(20):  # bars while the position is open
        if clock.t >= o.next_due:
            o.tick(clock.t)
    clock.t += 60_000
    pos = book.get(SYM)
    if k % 2:
        if not o.closing(SYM):
            o.close(pos, OrderRole.EXIT, "strategy exit")
        ex = next(i for i in o.open.values() if i.role is OrderRole.EXIT)
        fill(ex, "40100.0")
    else:
        stop = next(i for i in o.open.values() if i.role is OrderRole.STOP)
        fill(stop, "39800.0")


N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
REPS = 40
for k in range(500):
    round_trip(k)
best = 1e9
for _rep in range(REPS):
    t0 = time.process_time()
    for k in range(N):
        round_trip(k)
    best = min(best, time.process_time() - t0)
assert not o.open and not book.positions, (o.open, book.positions)
print(f"{best / N * 1e6:.2f} us per round trip (best of {REPS} batches of {N})")
