"""The order owner's per-symbol index of stop/target orders and its rescheduled timers never go
stale: after every report, fill and tick they equal what a scan of every open order computes,
and a stop the venue drops on its own is noticed and re-placed exactly as before.

Real engine, real (scripted-delivery) paper venue; numbers as in test_orders.py: ETH at 2000,
stop 1996, target 2008, 5.001 filled.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from tapedesk.engine.events import (
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Trade,
)
from tapedesk.engine.order_timers import NEVER, PROTECTIVE

from tests.engine_units._helpers import bar, long_at_close
from tests.engine_units.test_orders import ETH, FILL_TS, flat, make, resting, texts


def _scanned(orders, symbol: str) -> list[OrderIntent]:
    return [i for i in orders.open.values() if i.symbol == symbol and i.role in PROTECTIVE]


def _due(orders) -> int:
    due = min(orders.retries.values(), default=NEVER)
    for sym, since in orders.unprotected_since.items():
        if sym not in orders.flattening and sym not in orders.on_hold:
            due = min(due, since + orders.grace_ms)
    return due


def _fresh(orders) -> None:
    symbols = {i.symbol for i in orders.open.values()} | set(orders._guards)
    for sym in symbols:
        assert orders.protection(sym) == _scanned(orders, sym), sym
        acked = [i.qty for i in _scanned(orders, sym)
                 if i.role is OrderRole.STOP and i.client_id in orders.acked]
        assert orders.covered(sym) == max(acked, default=Decimal(0))
    assert orders.next_due == _due(orders)
    # The grace is never stale either: the owner rechecks cover only after what can change it
    # (a fill, a stop's report), so a recheck now must find nothing new.
    since, due = dict(orders.unprotected_since), orders.next_due
    stops = {s: p.stop_loss for s, p in orders.book.positions.items()}
    for sym in set(orders.book.positions) | set(since):
        orders._recheck(sym)
    assert orders.unprotected_since == since and orders.next_due == due
    assert {s: p.stop_loss for s, p in orders.book.positions.items()} == stops


def checked(eng) -> list[int]:
    """Check the index and the timers whenever a call from outside into the owner returns
    (mid-call, e.g. inside ``tick``, the timers are rescheduled before it returns)."""
    orders, calls, depth = eng.orders, [], [0]
    for name in ("on_update", "after_fill", "tick", "protect", "move_stop"):
        real = getattr(orders, name)

        def wrapped(*a, _real=real, **kw):
            depth[0] += 1
            try:
                out = _real(*a, **kw)
            finally:
                depth[0] -= 1
            if not depth[0]:
                _fresh(orders)
                calls.append(1)
            return out

        setattr(orders, name, wrapped)
    return calls


@pytest.mark.parametrize("status", [OrderStatus.CANCELED, OrderStatus.EXPIRED])
def test_a_stop_the_venue_drops_on_its_own_is_noticed_and_re_placed_exactly(status):
    eng, venue = make(parts=3)
    calls = checked(eng)
    eng.process(flat(0))
    [stop] = resting(venue, OrderType.STOP_MARKET)
    assert eng.orders.covered(ETH) == Decimal("5.001")
    # The exchange drops the stop (the trader cancelled it there, or it expired): not us.
    del venue.orders[stop.client_id]
    eng.on_order_update(OrderUpdate(stop.client_id, ETH, status, FILL_TS + 1, "gone"))
    assert eng.orders.covered(ETH) == 0 and eng.snapshot().unprotected == (ETH,)
    assert eng.position(ETH).stop_loss is None
    assert [i.role for i in eng.orders.protection(ETH)] == [OrderRole.TAKE_PROFIT]
    assert eng.orders.next_due == eng.now() + 500  # the re-send is due, before the grace
    eng.process(Trade(ETH, FILL_TS + 499, 2000.0, 1.0, False))
    assert not resting(venue, OrderType.STOP_MARKET)  # backoff: not yet
    eng.process(Trade(ETH, FILL_TS + 500, 2000.0, 1.0, False))
    [again] = resting(venue, OrderType.STOP_MARKET)
    assert again.client_id != stop.client_id
    assert (again.qty, again.stop_price, again.side, again.reduce_only) == (
        stop.qty, stop.stop_price, stop.side, True)
    assert eng.orders.covered(ETH) == Decimal("5.001") and eng.snapshot().unprotected == ()
    assert eng.position(ETH).stop_loss == Decimal("1996.00")
    assert eng.orders.next_due == NEVER
    assert f"Stop-loss order SELL 5.001 ETHUSDT {str(status).lower()}: gone." in texts(eng)
    # ... and it still protects: the position stops out at it, as one trade.
    eng.process(bar(1, 2000, 2001, 1990, 1995))
    [trip] = eng.trades
    assert (trip.exit_price, trip.reason) == (Decimal("1996.00"), "stop-loss")
    assert eng.orders.protection(ETH) == [] and venue.orders == {}
    assert calls  # the checks ran


def test_the_index_and_timers_stay_fresh_through_rejects_retries_moves_and_the_grace():
    eng, venue = make({0: long_at_close(), 3: long_at_close()}, parts=3)
    calls = checked(eng)
    venue.reject[OrderRole.STOP] = ["-1001 internal error"] * 2
    eng.process(flat(0))
    for k in range(1, 4):  # two re-sends with backoff, then the stop stands
        eng.process(Trade(ETH, FILL_TS + k * 1000, 2000.0, 1.0, False))
    assert eng.orders.covered(ETH) == Decimal("5.001") and eng.orders.next_due == NEVER
    eng.orders.move_stop(ETH, Decimal("1998.00"))  # replace, then cancel the old one
    [stop] = resting(venue, OrderType.STOP_MARKET)
    assert stop.stop_price == Decimal("1998.00") and len(eng.orders.protection(ETH)) == 2
    eng.process(bar(1, 2000, 2001, 1990, 1995))  # stopped out at the moved stop
    assert eng.trades[-1].exit_price == Decimal("1998.00")
    # The next entry's stop is refused until the grace period flattens it.
    venue.reject[OrderRole.STOP] = ["-1001 internal error"] * 50
    eng.process(flat(2))
    eng.process(flat(3))
    start = eng.now()
    for k in range(1, 12):
        eng.process(Trade(ETH, start + k * 1000, 2000.0, 1.0, False))
    assert eng.position(ETH) is None and eng.trades[-1].reason == "no stop on the exchange"
    assert eng.orders.protection(ETH) == [] and eng.orders.next_due == NEVER
    assert len(calls) > 15


def test_adopted_and_forgotten_orders_enter_and_leave_the_index():
    eng, _venue = make()
    eng.process(flat(0))
    orders = eng.orders
    [stop] = [i for i in orders.protection(ETH) if i.role is OrderRole.STOP]
    orders.forget(stop.client_id)
    orders.recheck(ETH)  # as reconciliation does after it forgets an order
    assert stop not in orders.protection(ETH) and orders.covered(ETH) == 0
    assert eng.snapshot().unprotected == (ETH,) and orders.next_due < NEVER
    orders.adopt(stop)
    assert orders.protection(ETH)[-1] is stop and orders.covered(ETH) == Decimal("5.001")
    assert eng.snapshot().unprotected == () and orders.next_due == NEVER
    _fresh(orders)
    orders.halted_flat()
    assert orders.protection(ETH) == [] and orders.open == {}


def test_a_retry_pending_when_the_position_closes_is_dropped_and_no_longer_due():
    eng, venue = make()
    calls = checked(eng)
    venue.reject[OrderRole.TAKE_PROFIT] = ["-1001 internal error"]
    eng.process(flat(0))
    assert eng.snapshot().unprotected == ()  # the stop stands; only the target is retried
    assert eng.orders.next_due == eng.now() + 500
    # Closed (the stop still covering) before the target's re-send was due.
    eng.orders.close(eng.position(ETH), OrderRole.EXIT, "strategy exit")
    eng.process(Trade(ETH, FILL_TS + 100, 2001.0, 1.0, False))
    assert eng.position(ETH) is None and eng.trades[-1].reason == "strategy exit"
    assert eng.orders.retries == {} and eng.orders.next_due == NEVER
    assert calls
