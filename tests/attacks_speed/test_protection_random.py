"""The order owner's stop/target index and its timers (engine/order_protection.py), attacked
with random sessions: entries filled in parts, stops/targets/exits/flattens rejected,
acknowledgements held back, stops the exchange expires on its own, moved stops, and the
trader's close. After every call into the owner its index and timers equal a full scan
(test_order_protection_index.checked); a position is never both short of a stop and out of
the grace; and once the venue behaves, every position ends flat or covered by a stop that
rests on the venue — nothing is left unprotected because a timer was not rescheduled."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from tapedesk.engine.events import OrderRole, OrderStatus, OrderType, OrderUpdate, Trade

from tests.engine_units._helpers import MIN, T0, bar, long_at_close
from tests.engine_units.test_order_protection_index import checked
from tests.engine_units.test_orders import ETH, make

REASONS = ["-1001 internal error", "-2021 Order would immediately trigger.", "-4164 notional"]


def _safe(eng) -> None:
    o = eng.orders
    for sym, pos in eng.book.positions.items():
        if o.halting or o.stopless(sym):
            continue
        assert o.covered(sym) >= pos.qty or sym in o.unprotected_since, (sym, pos.qty)


def _session(seed: int) -> None:
    rnd = random.Random(seed)
    script = {i: long_at_close() for i in range(0, 200, rnd.choice((3, 5, 7)))}
    eng, venue = make(script, parts=rnd.choice((1, 2, 3)))
    calls = checked(eng)
    px = 2000.0
    i = 0
    for _ in range(60):
        r = rnd.random()
        if r < 0.15:
            role = rnd.choice((OrderRole.STOP, OrderRole.TAKE_PROFIT, OrderRole.EXIT,
                               OrderRole.FLATTEN))
            venue.reject[role] = [rnd.choice(REASONS)] * rnd.randint(1, 3)
        elif r < 0.22:
            venue.hold_acks = not venue.hold_acks
            if not venue.hold_acks:
                venue.release()
        elif r < 0.30:  # the exchange drops a stop or target on its own
            mine = [x for x in venue.orders.values()
                    if x.intent.type in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)]
            if mine:
                gone = rnd.choice(mine).intent
                del venue.orders[gone.client_id]
                venue._order_version += 1
                eng.on_order_update(OrderUpdate(gone.client_id, ETH, rnd.choice(
                    (OrderStatus.EXPIRED, OrderStatus.CANCELED)), eng.now() + 1, "gone"))
        elif r < 0.36 and eng.position(ETH) is not None and ETH in eng.orders.plans:
            pos = eng.position(ETH)
            eng.orders.move_stop(ETH, Decimal(str(round(float(pos.entry_price) *
                                                        rnd.uniform(0.990, 0.999), 2))))
        elif r < 0.40 and eng.position(ETH) is not None and not eng.orders.closing(ETH):
            eng.orders.close(eng.position(ETH), OrderRole.EXIT, "manual")
        elif r < 0.70:
            for k in range(rnd.randint(1, 8)):
                eng.process(Trade(ETH, max(eng.now(), T0) + 700 * (k + 1), px, 1.0, False))
        else:
            move = px * rnd.uniform(-0.004, 0.004)
            o, c = px, px + move
            eng.process(bar(i, o, max(o, c) + abs(move) * rnd.random(),
                            min(o, c) - abs(move) * rnd.random(), c))
            px, i = c, i + 1
            # trades carry the clock on past the bar
            if eng.now() < T0 + i * MIN - 1:
                eng.process(Trade(ETH, T0 + i * MIN - 1, px, 1.0, False))
        _safe(eng)
    # The venue behaves from now on; nothing else happens but time passing.
    venue.reject.clear()
    venue.hold_acks = False
    venue.release()
    grace = eng.orders.grace_ms
    start = eng.now()
    for k in range(1, 3 * grace // 500):
        eng.process(Trade(ETH, start + k * 500, px, 1.0, False))
        _safe(eng)
    pos = eng.position(ETH)
    if pos is not None:
        stops = [x.intent for x in venue.orders.values()
                 if x.intent.type is OrderType.STOP_MARKET and x.intent.reduce_only]
        assert any(s.qty >= pos.qty for s in stops), (seed, pos.qty, stops, texts_of(eng))
        assert eng.orders.unprotected() == ()
    assert calls


def texts_of(eng) -> str:
    return "\n".join(e.text for e in eng.recent)[-2000:]


@pytest.mark.parametrize("block", range(4))
def test_random_sessions_keep_every_position_protected_or_flat(block: int):
    for seed in range(block * 25, block * 25 + 25):
        _session(seed)
