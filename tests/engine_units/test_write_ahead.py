"""Write-ahead, unit by unit: the live venue sends an order only once the journal holds its
intent; after a restart, an intent the venue never answered is the desk's own when the
exchange lists it and dropped when it never reached it, while orders the journal never held
(or that differ from what it holds) stay differences for the trader.

The whole story through ``tapedesk`` and a killed process: tests/live/test_attacks_restart_window.py.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import OrderIntent, OrderRole, OrderStatus, OrderType, Position, Side
from tapedesk.engine.order_restart import _intent_dict
from tapedesk.engine.orders import Orders
from tapedesk.engine.positions import PositionBook
from tapedesk.engine.reconcile import reconcile_at_start
from tapedesk.engine.symbols import spec_for

from tests.live.venue_fakes import make_venue

D = Decimal
SYM = "BTCUSDT"


def _stop(cid: str = "td-1-s", side: str = "SELL", qty: str = "0.010") -> OrderIntent:
    return OrderIntent(cid, SYM, side, OrderType.STOP_MARKET, D(qty), OrderRole.STOP, 1,
                       stop_price=D("59800.0"), reduce_only=True)


def _entry(cid: str = "td-1-e") -> OrderIntent:
    return OrderIntent(cid, SYM, "BUY", OrderType.MARKET, D("0.010"), OrderRole.ENTRY, 1)


class Clock:
    def __init__(self, ms: int = 1) -> None:
        self.ms = ms

    def now(self) -> int:
        return self.ms


class Exchange:
    """What reconciliation reads: positions and open orders, nothing sent."""

    simulated = False

    def __init__(self, positions: dict[str, Position], orders: list[OrderIntent]) -> None:
        self.positions, self.orders = positions, orders
        self.unknown: set[str] = set()

    async def fetch_positions(self) -> dict[str, Position]:
        return dict(self.positions)

    async def fetch_open_orders(self) -> list[OrderIntent]:
        return list(self.orders)

    def not_on_exchange(self) -> set[str]:
        """Its look-up works: whatever it does not hold it does not know."""
        return self.unknown

    def submit(self, intent: OrderIntent) -> None:
        raise AssertionError(f"nothing may be sent while reconciling: {intent}")


def _restored(exchange: Exchange, open_orders: list[tuple[OrderIntent, bool]],
              position: bool = True, now_ms: int = 1) -> tuple[Orders, list[Any], list[str]]:
    """An order owner restored from a checkpoint holding ``open_orders`` (intent, acked)."""
    book = PositionBook()
    if position:
        book.positions[SYM] = Position(SYM, Side.LONG, D("0.010"), D("60000"), 5, 0)
    records: list[Any] = []
    said: list[str] = []
    orders = Orders(venue=exchange, clock=Clock(now_ms), book=book, spec=spec_for, cfg=RiskConfig(),
                    record=records.append, explain=lambda kind, text, **kw: said.append(text))
    orders.restore({"open": [{**_intent_dict(i), "acked": acked} for i, acked in open_orders],
                    "plans": [{"symbol": SYM, "side": "long", "stop": "59800.0",
                               "target": None, "strategy": "s", "leverage": 5,
                               "entry_id": "" if position else "td-1-e"}]})
    return orders, records, said


async def test_an_unanswered_intent_the_exchange_lists_is_the_desks_own() -> None:
    stop = _stop()
    ex = Exchange({SYM: Position(SYM, Side.LONG, D("0.010"), D("60000"), 5, 0)}, [stop])
    orders, records, said = _restored(ex, [(stop, False)])
    rec = await reconcile_at_start(ex, orders.book, orders)
    assert rec.differences == [] and not rec.blocked
    assert stop.client_id in orders.acked and stop.client_id in orders.open
    assert [s for s in said if stop.client_id in s] == [
        f"{SYM}: Stop-loss order {stop.client_id} was sent just before the restart and the "
        "exchange accepted it; its answer never reached the journal. It is the desk's own: "
        "managed again."]
    assert any("SET status = 'NEW'" in sql and args[1] == stop.client_id
               for sql, args in records)


async def test_an_unanswered_intent_the_exchange_never_saw_is_dropped_not_resent() -> None:
    entry = _entry()
    ex = Exchange({}, [])
    ex.unknown = {entry.client_id}  # looked up by client id: "order does not exist"
    orders, records, said = _restored(ex, [(entry, False)], position=False)
    rec = await reconcile_at_start(ex, orders.book, orders)
    assert rec.differences == [] and not rec.blocked
    assert entry.client_id not in orders.open and SYM not in orders.plans
    assert not orders.working_entry(SYM)  # a new entry may go
    assert len([s for s in said if entry.client_id in s]) == 1
    assert any("REJECTED" in sql and args[1] == entry.client_id for sql, args in records)


async def test_a_stop_unknown_days_later_is_not_called_never_sent() -> None:
    """Binance forgets an order canceled or expired without a fill once it is 3 days old: a
    desk down that long cannot tell "never sent" from "sent, canceled, forgotten"."""
    stop = _stop()
    pos = {SYM: Position(SYM, Side.LONG, D("0.010"), D("60000"), 5, 0)}
    for now_ms, forgotten in ((1 + 3_600_000, False), (1 + 4 * 86_400_000, True)):
        ex = Exchange(pos, [])
        ex.unknown = {stop.client_id}
        orders, records, said = _restored(ex, [(stop, False)], now_ms=now_ms)
        await reconcile_at_start(ex, orders.book, orders)
        assert stop.client_id not in orders.open  # dropped, and not sent again either way
        (line,) = [s for s in said if stop.client_id in s]
        assert ("forgotten" in line) is forgotten, line
        assert ("never reached the exchange before the restart" in line) is not forgotten, line
        (why,) = [args[0] for sql, args in records if "REJECTED" in sql]
        assert ("forgotten" in why) is forgotten, why


async def test_an_unanswered_intent_whose_look_up_failed_is_asked_not_dropped() -> None:
    entry = _entry()
    pos = {SYM: Position(SYM, Side.LONG, D("0.010"), D("60000"), 5, 0)}
    ex = Exchange(pos, [])  # it filled; the look-up by client id answered a 5xx
    orders, records, said = _restored(ex, [(entry, False)], position=False)
    rec = await reconcile_at_start(ex, orders.book, orders)
    assert rec.blocked and {d.key for d in rec.differences} == {
        f"position:{SYM}", f"order:{entry.client_id}"}
    assert entry.client_id in orders.open and orders.working_entry(SYM)  # no new entry
    assert not any("REJECTED" in sql for sql, _args in records)
    (line,) = [s for s in said if entry.client_id in s]
    assert "could not be asked" in line and "never reached" not in line


async def test_an_entry_unknown_to_the_look_up_beside_an_unexplained_position_is_asked() -> None:
    """Binance's look-up says "no such order" (it lags), yet the exchange holds a position the
    journal does not: the entry may well have filled, so it is not called never sent."""
    entry = _entry()
    ex = Exchange({SYM: Position(SYM, Side.LONG, D("0.010"), D("60000"), 5, 0)}, [])
    ex.unknown = {entry.client_id}
    orders, records, said = _restored(ex, [(entry, False)], position=False)
    rec = await reconcile_at_start(ex, orders.book, orders)
    assert {d.key for d in rec.differences} == {f"position:{SYM}", f"order:{entry.client_id}"}
    assert not any("REJECTED" in sql for sql, _args in records)
    (line,) = [s for s in said if entry.client_id in s]
    assert "holds a position the journal does not" in line and "never reached" not in line


async def test_an_answered_order_missing_on_the_exchange_is_still_a_difference() -> None:
    entry = _entry()
    orders, _records, said = _restored(Exchange({}, []), [(entry, True)], position=False)
    rec = await reconcile_at_start(Exchange({}, []), orders.book, orders)
    assert [d.key for d in rec.differences] == [f"order:{entry.client_id}"]  # as before
    assert said == []


async def test_orders_the_journal_never_held_or_holds_otherwise_are_differences() -> None:
    stop = _stop()
    pos = {SYM: Position(SYM, Side.LONG, D("0.010"), D("60000"), 5, 0)}
    on_exchange = [_stop(side="BUY"),  # the desk's id, the wrong side
                   _stop("td-77-s"),  # the desk's format, never journaled here
                   _stop("web_1")]  # placed by hand
    ex = Exchange(pos, on_exchange)
    orders, _records, _said = _restored(ex, [(stop, False)])
    rec = await reconcile_at_start(ex, orders.book, orders)
    assert sorted(d.key for d in rec.pending) == [
        "order:td-1-s", "order:td-77-s", "order:web_1"]
    assert "differs" in rec.get("order:td-1-s").text
    assert not [s for s in _said if "td-1-s" in s]  # not called the desk's own either


async def test_the_venue_sends_only_once_the_journal_holds_the_intent() -> None:
    venue, gate, sink = make_venue()
    order: list[str] = []
    gate.answers["futures_create_algo_order"] = lambda p: order.append("sent") or {
        "algoId": 1, "algoStatus": "NEW", "clientAlgoId": p["clientAlgoId"]}

    async def journaled() -> str:
        await asyncio.sleep(0.05)
        order.append("journaled")
        return ""

    sink.journaled = journaled  # type: ignore[attr-defined]
    venue.submit(_stop())
    await asyncio.sleep(0.2)
    assert order == ["journaled", "sent"]
    assert sink.statuses("td-1-s") == ["NEW"]
    await venue.close()


async def test_a_journal_in_trouble_holds_back_entries_not_protection() -> None:
    venue, gate, sink = make_venue()
    venue.settings.write_ahead_wait_s = 0.05
    gate.answers["futures_create_algo_order"] = {"algoId": 1, "algoStatus": "NEW"}
    gate.answers["futures_create_order"] = {"orderId": 2, "status": "NEW", "executedQty": "0"}

    async def journaled() -> str:
        await asyncio.sleep(5)  # a commit stuck on a locked file ...
        return "journal error: database is locked"

    sink.journaled = journaled  # type: ignore[attr-defined]
    venue.last_price[SYM] = 60000.0
    venue.submit(_stop())
    venue.submit(_entry())
    await asyncio.sleep(0.3)
    assert gate.count("futures_create_algo_order") == 1  # the stop went after 0.05 s
    assert gate.count("futures_create_order") == 0  # the entry waits for the journal ...

    async def refusing() -> str:
        return "journal error: disk full"

    sink.journaled = refusing  # type: ignore[attr-defined]
    venue.submit(_entry("td-2-e"))
    await asyncio.sleep(0.1)
    assert gate.count("futures_create_order") == 0  # ... and is refused when it cannot
    last = sink.last("td-2-e")
    assert last is not None and last.status is OrderStatus.REJECTED
    assert "journal could not record it first (journal error: disk full)" in last.reason
    await venue.close()


async def test_an_entry_the_trader_answered_no_longer_blocks_new_entries() -> None:
    """An unanswered entry whose look-up failed becomes a difference; once the trader answers
    it (ignore or flatten), its plan must not keep claiming a working entry, or the symbol
    never trades again. The same for an answered entry the exchange no longer lists."""

    class Venue:
        async def cancel_async(self, symbol: str, client_id: str) -> None: ...

        async def close_position(self, position: Position) -> None: ...

    for acked, action in ((False, "ignore"), (False, "flatten"), (False, "adopt"),
                          (True, "ignore")):
        entry = _entry()
        ex = Exchange({}, [])  # flat; the look-up by client id failed
        orders, _records, _said = _restored(ex, [(entry, acked)], position=False)
        rec = await reconcile_at_start(ex, orders.book, orders)
        assert [d.key for d in rec.differences] == [f"order:{entry.client_id}"]
        await rec.answer(f"order:{entry.client_id}", action, Venue(), orders.book, orders)
        assert not rec.blocked
        assert not orders.working_entry(SYM), (acked, action, orders.plans)
