"""The emergency stop procedure on its own: over the venue only, retrying until verified flat,
and the order owner stands aside while it runs (no protection re-placed, no grace flatten)."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.clock import EventClock
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.emergency_stop import emergency_stop
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import ExplanationKind, OrderRole

from tests.engine_units._helpers import ScriptedStrategy, bar, long_at_close
from tests.engine_units._venues import ScriptedVenue

ETH = "ETHUSDT"


def desk(**kw: object) -> tuple[Engine, ScriptedVenue]:
    venue = ScriptedVenue(Decimal(10_000), slippage_bps=0.0, latency_ms=0, fill_at="close",
                          assumed_funding_bps_8h=0.0, **kw)
    eng = Engine(config=DeskConfig(symbols=[ETH]), venue=venue,
                 strategies=[ScriptedStrategy({0: long_at_close()})], clock=EventClock(),
                 mode="backtest")
    eng.process(bar(0, 2000, 2000, 2000, 2000))
    assert eng.position(ETH) is not None
    return eng, venue


async def test_it_cancels_closes_reduce_only_and_verifies_flat_with_the_venue():
    eng, venue = desk(parts=2)
    assert await emergency_stop(eng)
    assert venue.book.positions == {} and venue.orders == {} and eng.position(ETH) is None
    assert eng.halted and eng.trades[-1].reason == "emergency stop"
    closes = [i for i in venue.sent if i.role is OrderRole.FLATTEN]
    assert len(closes) == 1 and closes[0].reduce_only and closes[0].qty == Decimal("5.001")
    # No stop was re-placed after "cancel all" took the desk's own stop away.
    assert len([i for i in venue.sent if i.role is OrderRole.STOP]) == 2  # the two amendments
    assert not eng.orders.halting and eng.orders.open == {}


async def test_it_keeps_trying_while_the_venue_fails_and_says_why():
    eng, venue = desk()
    real = venue.cancel_all
    failures = {"left": 2}

    async def flaky(symbol=None):
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("venue unreachable")
        await real(symbol)

    venue.cancel_all = flaky  # type: ignore[method-assign]
    assert await emergency_stop(eng)
    assert venue.book.positions == {} and failures["left"] == 0
    errors = [e.text for e in eng.recent if e.kind is ExplanationKind.ERROR]
    assert errors[:2] == ["Emergency stop attempt 1 failed: venue unreachable; retrying in 0.2 s.",
                          "Emergency stop attempt 2 failed: venue unreachable; retrying in 0.4 s."]


async def test_a_rejected_close_is_retried_by_the_procedure_not_by_the_order_owner():
    eng, venue = desk()
    venue.reject[OrderRole.FLATTEN] = ["-1001 internal error"]
    assert await emergency_stop(eng)
    assert venue.book.positions == {}
    assert eng.orders.retries == {}  # the owner stood aside
    assert any("Verify attempt 1: venue still shows 1 position(s)" in e.text for e in eng.recent)
