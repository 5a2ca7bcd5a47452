"""Attack on protect-lean: the order owner no longer rechecks cover after a target's
acknowledgement or after the final reports of entries, closes and targets. Drive it with
reports the EXCHANGE originates (a target cancelled on the website, a target rejected -2021,
a stop expired while its replacement is in flight, a close rejected -2022) and check after
every call in (``checked``) that a from-scratch recheck finds nothing new: an uncovered
position always has its grace started, as main before the change computed at each report.
"""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.events import OrderRole, OrderStatus, OrderType, OrderUpdate, Trade

from tests.engine_units.test_order_protection_index import checked
from tests.engine_units.test_orders import ETH, FILL_TS, flat, make, resting


def _gone(eng, venue, intent, status: OrderStatus, reason: str, ts: int) -> None:
    """The exchange drops ``intent`` on its own (not a cancel the desk asked for)."""
    venue.orders.pop(intent.client_id, None)
    eng.on_order_update(OrderUpdate(intent.client_id, ETH, status, ts, reason))


def test_targets_and_stops_the_exchange_drops_keep_the_grace_exact():
    eng, venue = make(parts=3)
    calls = checked(eng)
    eng.process(flat(0))
    [target] = resting(venue, OrderType.TAKE_PROFIT_MARKET)
    [stop] = resting(venue, OrderType.STOP_MARKET)
    # The trader cancels the target on the Binance website: the stop still covers.
    _gone(eng, venue, target, OrderStatus.CANCELED, "cancelled on the website", FILL_TS + 1)
    assert eng.snapshot().unprotected == ()
    # Then Binance expires the stop: uncovered, the grace starts at once.
    _gone(eng, venue, stop, OrderStatus.EXPIRED, "expired by Binance", FILL_TS + 2)
    assert eng.snapshot().unprotected == (ETH,)
    assert eng.position(ETH).stop_loss is None
    for k in range(1, 4):  # the re-sends come back: covered again, the grace ends
        eng.process(Trade(ETH, FILL_TS + k * 1000, 2000.0, 1.0, False))
    assert eng.orders.covered(ETH) == Decimal("5.001") and eng.snapshot().unprotected == ()
    assert len(calls) > 5


def test_a_target_refused_minus_2021_and_a_close_refused_minus_2022_never_leave_it_silent():
    eng, venue = make()
    calls = checked(eng)
    venue.reject[OrderRole.TAKE_PROFIT] = ["-2021 Order would immediately trigger."]
    venue.reject[OrderRole.EXIT] = ["-2022 ReduceOnly Order is rejected."] * 2
    eng.process(flat(0))
    # The target would trigger: the desk cancels the stop and closes; the close is refused.
    pos = eng.position(ETH)
    if pos is not None:
        assert eng.snapshot().unprotected == (ETH,) or eng.orders.closing(ETH) \
            or eng.orders.retries
    for k in range(1, 12):
        eng.process(Trade(ETH, FILL_TS + k * 1000, 2000.0, 1.0, False))
    assert eng.position(ETH) is None and eng.snapshot().unprotected == ()
    assert calls
