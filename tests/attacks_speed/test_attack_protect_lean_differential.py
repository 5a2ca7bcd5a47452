"""Differential attack on protect-lean: the same report sequences — reports the EXCHANGE
originates, late acknowledgements, partial entries that expire, -2021/-2022 refusals, a grace
that runs out — through the order owner before the change (aca4519, ``_old_orders``) and after
it. After every step both must have sent the same orders and hold the same grace, timers,
cover and position: the skipped rechecks never leave a position unprotected unnoticed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tapedesk.engine import engine as engine_module
from tapedesk.engine.events import OrderRole, OrderStatus, OrderType, OrderUpdate, Trade

from tests.attacks_speed._old_orders.orders import Orders as OldOrders
from tests.engine_units.test_orders import ETH, FILL_TS, flat, make, resting


def _trace(eng, venue) -> tuple:
    pos = eng.position(ETH)
    return ([(i.role, i.type, i.side, i.qty, i.stop_price) for i in venue.sent],
            eng.snapshot().unprotected, dict(eng.orders.unprotected_since),
            eng.orders.next_due, eng.orders.covered(ETH), sorted(eng.orders.retries.items()),
            None if pos is None else (pos.qty, pos.stop_loss, pos.take_profit),
            [(t.exit_price, t.reason) for t in eng.trades])


def _gone(status: OrderStatus, typ: OrderType, reason: str):
    """The exchange drops the resting order of ``typ`` that covers most, on its own."""
    def step(eng, venue, ts):
        found = resting(venue, typ)
        if not found:
            return
        intent = max(found, key=lambda i: i.qty)
        venue.orders.pop(intent.client_id, None)
        eng.on_order_update(OrderUpdate(intent.client_id, ETH, status, ts, reason))
    return step


def _tick(eng, venue, ts):
    eng.process(Trade(ETH, ts, 2000.0, 1.0, False))


def _release(eng, venue, ts):
    venue.hold_acks = False
    venue.release()


def _hold(eng, venue, ts):
    venue.hold_acks = True


SCENARIOS = {
    "website_cancels_target_then_binance_expires_stop": (
        dict(parts=3), {}, [_gone(OrderStatus.CANCELED, OrderType.TAKE_PROFIT_MARKET, "web"),
                            _gone(OrderStatus.EXPIRED, OrderType.STOP_MARKET, "expired")]),
    "acks_late_across_partial_fills_then_stop_expires": (
        dict(parts=3), {}, [_release, _gone(OrderStatus.EXPIRED, OrderType.STOP_MARKET, "x"),
                            _gone(OrderStatus.CANCELED, OrderType.TAKE_PROFIT_MARKET, "web")]),
    "entry_partly_filled_then_expired_target_rejected_later": (
        dict(parts=3, expire_after=2), {},
        [_release, _gone(OrderStatus.REJECTED, OrderType.TAKE_PROFIT_MARKET, "-1001"),
         _gone(OrderStatus.CANCELED, OrderType.STOP_MARKET, "web")]),
    "target_minus_2021_close_minus_2022": (
        {}, {OrderRole.TAKE_PROFIT: ["-2021 Order would immediately trigger."],
             OrderRole.EXIT: ["-2022 ReduceOnly Order is rejected."] * 2}, []),
    "stop_keeps_failing_until_the_grace_flattens": (
        {}, {OrderRole.STOP: ["-1001 internal error"] * 60}, []),
    "stop_expired_while_its_resend_is_held": (
        {}, {}, [_gone(OrderStatus.EXPIRED, OrderType.STOP_MARKET, "x"), _hold, _tick, _tick,
                 _gone(OrderStatus.CANCELED, OrderType.TAKE_PROFIT_MARKET, "web"), _release]),
}


def _run(monkeypatch, orders_cls, venue_kw, rejects, steps, held_from_start) -> list:
    monkeypatch.setattr(engine_module, "Orders", orders_cls)
    eng, venue = make(**venue_kw)
    assert type(eng.orders) is orders_cls
    for role, reasons in rejects.items():
        venue.reject[role] = list(reasons)
    venue.hold_acks = held_from_start
    out = []
    eng.process(flat(0))
    out.append(_trace(eng, venue))
    ts = FILL_TS
    for step in steps:
        ts += 1
        step(eng, venue, ts)
        out.append(_trace(eng, venue))
    for k in range(1, 16):  # time runs on: re-sends, grace, flattening
        _tick(eng, venue, FILL_TS + 100 + k * 1000)
        out.append(_trace(eng, venue))
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_old_and_new_order_owner_send_and_watch_exactly_alike(monkeypatch, name):
    venue_kw, rejects, steps = SCENARIOS[name]
    held = steps[:1] == [_release]
    new = _run(monkeypatch, engine_module.Orders, venue_kw, rejects, steps, held)
    old = _run(monkeypatch, OldOrders, venue_kw, rejects, steps, held)
    assert new == old
    assert new[-1][6] is None or new[-1][4] == new[-1][6][0]  # ends flat or fully covered
    assert Decimal(0) <= new[0][4]
