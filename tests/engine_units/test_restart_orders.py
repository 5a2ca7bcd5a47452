"""Restarts are truthful: a real journal file, a desk killed with a position and its stop and
target open, and a venue that answers like an exchange (``simulated = False``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tapedesk.engine.clock import EventClock
from tapedesk.engine.config import DeskConfig, PaperConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import ExplanationKind, OrderIntent, OrderRole, OrderType
from tapedesk.engine.journal import Journal

from tests.engine_units._helpers import ScriptedStrategy, bar, long_at_close
from tests.engine_units._venues import ScriptedVenue

ETH = "ETHUSDT"


class ExchangeLikeVenue(ScriptedVenue):
    """The paper venue's books, answering as a real venue: the engine reconciles with it,
    takes the wallet from it, and must ``track`` the orders it restored."""

    simulated = False

    def __init__(self, *a: object, stop_fills_while_down: bool = False,
                 cancelled_while_down: str = "", **kw: object) -> None:
        super().__init__(*a, **kw)
        self.tracked: list[OrderIntent] = []
        self.stop_fills_while_down = stop_fills_while_down
        self.cancelled_while_down = cancelled_while_down

    def track(self, intents: list[OrderIntent], fills: object = (),
              unanswered: object = ()) -> None:
        self.tracked.extend(intents)

    async def start(self) -> None:
        if self.cancelled_while_down:  # by hand on the exchange, nobody told the desk
            del self.orders[self.cancelled_while_down]
        if self.stop_fills_while_down:
            # What the venue learns on (re)connecting: the stop triggered while nobody listened.
            self.on_market(bar(5, 1999, 1999, 1990, 1992))


def venue(**kw: object) -> ExchangeLikeVenue:
    return ExchangeLikeVenue(Decimal(10_000), slippage_bps=0.0, latency_ms=0, fill_at="close",
                             assumed_funding_bps_8h=0.0, **kw)


def engine(path: Path, v: ExchangeLikeVenue, script: dict | None = None) -> Engine:
    return Engine(config=DeskConfig(symbols=[ETH]), venue=v, journal=Journal(path),
                  strategies=[ScriptedStrategy(script or {})], clock=EventClock(), mode="live")


async def killed_with_a_position(path: Path) -> list[OrderIntent]:
    first = engine(path, venue(parts=2), {0: long_at_close()})
    await first.start()
    first.process(bar(0, 2000, 2000, 2000, 2000))
    await first.commit()
    orders = sorted(first.orders.open.values(), key=lambda i: i.role)
    await first.journal.close()  # kill -9: no stop(), nothing else written
    return orders


async def test_restart_restores_each_open_order_exactly_and_tracks_it(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    before = await killed_with_a_position(path)
    assert [(i.role, i.type) for i in before] == [
        (OrderRole.STOP, OrderType.STOP_MARKET), (OrderRole.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET)]
    v = venue()
    v.load_state((await _checkpoint(path))["venue_state"])  # the exchange still holds them
    again = engine(path, v)
    await again.start()
    after = sorted(again.orders.open.values(), key=lambda i: i.role)
    assert after == before  # type, side, trigger, qty, role, client id, reduce-only
    assert sorted(v.tracked, key=lambda i: i.role) == before
    rec = again.reconciliation
    assert rec is not None and rec.differences == [] and not rec.blocked
    assert again.position(ETH).stop_loss == Decimal("1996.00")
    assert again.snapshot().unprotected == ()
    await again.stop()


async def test_a_stop_missing_on_the_exchange_after_a_restart_is_placed_again_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.db"
    before = await killed_with_a_position(path)
    stop = next(i for i in before if i.role is OrderRole.STOP)
    v = venue(cancelled_while_down=stop.client_id)
    again = engine(path, v)
    await again.start()
    assert [d.key for d in again.reconciliation.differences] == [f"order:{stop.client_id}"]
    [new_stop] = [i for i in again.orders.protection(ETH) if i.role is OrderRole.STOP]
    assert new_stop.client_id != stop.client_id and new_stop.qty == stop.qty
    assert new_stop.client_id in {r.intent.client_id for r in v.orders.values()}
    assert again.snapshot().unprotected == ()
    await again.stop()


async def test_a_stop_filled_while_the_desk_was_down_closes_the_trade_at_the_exchanges_price(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.db"
    await killed_with_a_position(path)
    v = venue(stop_fills_while_down=True)
    v.load_state((await _checkpoint(path))["venue_state"])
    again = engine(path, v)
    await again.start()
    [trip] = again.trades
    assert (trip.reason, trip.exit_price, trip.qty) == ("stop-loss", Decimal("1996.00"),
                                                       Decimal("5.001"))
    # The exchange's fees: its taker fee on the entry and on the stop's fill.
    assert trip.fees == Decimal("5.001") + Decimal("4.990998")
    assert again.day.losses == 1 and again.day.realized_pnl == trip.pnl < 0
    assert again.position(ETH) is None and again.orders.open == {}
    assert v.orders == {}  # the orphaned target was cancelled
    assert again.reconciliation.differences == []
    await again.stop()
    # ... and it is in the journal: a third start sees the loss in today's counters.
    third = engine(path, venue())
    await third.start()
    assert third.day.losses == 1 and len(third.trades) == 1
    await third.stop()


async def test_a_live_desk_sizes_from_the_account_not_the_paper_balance(tmp_path: Path) -> None:
    v = venue()
    v.balance = Decimal("100009")
    eng = Engine(config=DeskConfig(symbols=[ETH], paper=PaperConfig(initial_balance=10_000)),
                 venue=v, journal=Journal(tmp_path / "live.db"),
                 strategies=[ScriptedStrategy({0: long_at_close()})], clock=EventClock(),
                 mode="live")
    await eng.start()
    assert eng.initial_balance == eng.balance == Decimal("100009")
    eng.process(bar(0, 2000, 2000, 2000, 2000))
    taken = [e.text for e in eng.recent if e.kind is ExplanationKind.TAKEN]
    assert "risk $300.03 = 0.30 % of $100,009.00 incl. fees and slippage $99.94" in taken[0]
    assert eng.position(ETH).qty == Decimal("50.021")  # 300.027 / 5.998
    await eng.stop()


async def _checkpoint(path: Path) -> dict:
    j = Journal(path)
    await j.open()
    try:
        ck = await j.load_checkpoint()
    finally:
        await j.close()
    assert ck is not None
    return ck




async def test_an_adopted_position_without_a_stop_waits_for_the_answer_then_gets_its_grace(
    tmp_path: Path,
) -> None:
    from tapedesk.engine.events import Trade

    from tests.engine_units._helpers import MIN, T0, RecordingSink, order

    class Opened(ExchangeLikeVenue):
        async def start(self) -> None:  # opened by hand on the exchange before the desk ran
            desk, self._sink = self._sink, RecordingSink()  # the desk hears nothing of it
            self.on_market(bar(0, 2000, 2000, 2000, 2000))
            self.set_leverage(ETH, 2)
            self.submit(order("web1", "BUY", qty="1", ts=T0 + MIN - 1))
            self._sink = desk

    v = Opened(Decimal(10_000), slippage_bps=0.0, latency_ms=0, fill_at="close",
               assumed_funding_bps_8h=0.0)
    eng = engine(tmp_path / "live.db", v)
    await eng.start()
    assert eng.reconciliation.blocked and eng.position(ETH) is None
    t = T0 + MIN
    for k in range(30):  # the trader takes 30 s to answer: nothing is closed meanwhile
        eng.process(Trade(ETH, t + k * 1000, 2000.0, 1.0, False))
    assert v.book.get(ETH) is not None
    text = await eng.resolve_difference(f"position:{ETH}", "adopt")
    assert "WARNING: no stop-loss protects this long 1" in text
    assert eng.snapshot().unprotected == (ETH,)
    for k in range(30, 45):
        eng.process(Trade(ETH, t + k * 1000, 2000.0, 1.0, False))
    assert v.book.get(ETH) is None  # closed reduce-only 10 s after the answer
    assert eng.trades[-1].reason == "no stop on the exchange"
    await eng.stop()
