"""A stop the EXCHANGE drops while the stop it replaced is still being cancelled (Binance's
CANCELED arrives late) must be re-sent. Before the fix the owner counted the old stop, whose
cancel it had sent itself, as "still standing": it said "stop NOT moved ... stays on the
exchange" (false: it is being cancelled), sent nothing, and once the late CANCELED came the
grace ran out and the position was flattened at market. Pre-existing (main at aca4519 did
the same); found by the protect-lean attack."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.events import OrderStatus, OrderType, OrderUpdate, Trade

from tests.engine_units.test_orders import ETH, FILL_TS, flat, make, resting, texts


def test_a_replacement_stop_dropped_while_the_old_one_is_cancelled_is_re_sent():
    eng, venue = make()
    eng.process(flat(0))
    [old] = resting(venue, OrderType.STOP_MARKET)
    late: list[str] = []
    real_cancel = venue.cancel
    venue.cancel = lambda symbol, cid: late.append(cid)  # Binance answers the cancel later
    eng.orders.move_stop(ETH, Decimal("1998.00"))
    assert late == [old.client_id]  # new stop live, the old one's cancel on its way
    [new] = [i for i in resting(venue, OrderType.STOP_MARKET) if i.client_id != old.client_id]
    # Binance expires the new stop before the old one's CANCELED arrives.
    venue.orders.pop(new.client_id)
    eng.on_order_update(OrderUpdate(new.client_id, ETH, OrderStatus.EXPIRED, FILL_TS + 1, "x"))
    venue.cancel = real_cancel
    venue.cancel(ETH, old.client_id)  # ... and now the late CANCELED of the old one
    assert eng.orders.covered(ETH) == 0 and eng.snapshot().unprotected == (ETH,)
    assert "stop NOT moved" not in texts(eng)
    for k in range(1, 15):
        eng.process(Trade(ETH, FILL_TS + k * 1000, 2000.0, 1.0, False))
    assert eng.position(ETH) is not None, eng.trades  # not flattened: the stop was re-sent
    [again] = resting(venue, OrderType.STOP_MARKET)
    assert (again.qty, again.stop_price) == (Decimal("5.001"), Decimal("1998.00"))
    assert eng.orders.covered(ETH) == Decimal("5.001") and eng.snapshot().unprotected == ()
