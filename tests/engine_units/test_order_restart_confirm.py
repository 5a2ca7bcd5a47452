"""After a restart, a restored stop or target the exchange no longer lists is dropped by the
order owner: its journal row must be closed too, or the trade story shows it live for good
(found by the desk attack: a kill between `b`'s new stop and the old stop's cancel)."""

from __future__ import annotations

from tapedesk.engine.order_timers import PROTECTIVE

from tests.engine_units._helpers import long_at_close
from tests.engine_units.test_orders import ETH, flat, make


def test_a_restored_protective_order_the_exchange_no_longer_lists_is_closed_in_the_journal():
    eng, _venue = make({0: long_at_close()})
    eng.process(flat(0))
    assert eng.position(ETH) is not None
    protective = {cid for cid, i in eng.orders.open.items() if i.role in PROTECTIVE}
    assert protective, "the entry's fill is protected by a stop and a target"
    rows: list = []
    eng.orders.record = rows.append
    eng.orders.restored.update(eng.orders.open)  # as a restart restores them from the journal
    eng.orders.confirm([])
    assert not protective & set(eng.orders.open)
    closed = {params[2] for sql, params in rows if sql.startswith("UPDATE orders SET status")}
    assert closed == protective
    assert {params[0] for _sql, params in rows} == {"CANCELED"}
