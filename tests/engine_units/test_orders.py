"""The order owner through the real engine and a real paper venue whose delivery is scripted:
partial fills, late acknowledgements, -2021/-2022 rejections, unknown entry outcomes.

Numbers: ETH at 2000, stop 1996 (0.20 %), target 2008, taker 5 bps, no slippage, 10,000
equity: size 30 / (4 + 1.998 fees) = 5.001, filled in three trades of 1.667.
"""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.clock import EventClock
from tapedesk.engine.config import DeskConfig, RiskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import ExplanationKind, OrderRole, OrderType, Side, Trade

from tests.engine_units._helpers import MIN, T0, ScriptedStrategy, bar, long_at_close
from tests.engine_units._venues import ScriptedVenue

ETH = "ETHUSDT"
FILL_TS = T0 + MIN - 1  # bar 0's close: where the entry fills (fill_at=close)


def make(script: dict | None = None, **venue_kw: object) -> tuple[Engine, ScriptedVenue]:
    venue = ScriptedVenue(Decimal(10_000), slippage_bps=0.0, latency_ms=0, fill_at="close",
                          assumed_funding_bps_8h=0.0, **venue_kw)
    eng = Engine(config=DeskConfig(symbols=[ETH], risk=RiskConfig()), venue=venue,
                 strategies=[ScriptedStrategy(script or {0: long_at_close()})],
                 clock=EventClock(), mode="backtest")
    return eng, venue


def flat(i: int, px: float = 2000.0):
    return bar(i, px, px, px, px)


def resting(venue: ScriptedVenue, typ: OrderType) -> list:
    return [r.intent for r in venue.orders.values() if r.intent.type is typ]


def texts(eng: Engine, kind: ExplanationKind | None = None) -> str:
    return "\n".join(e.text for e in eng.recent if kind is None or e.kind is kind)


def watch_cover(eng: Engine) -> list[tuple[Decimal, Decimal]]:
    """(covered by an acknowledged stop, open qty) right after every fill the venue reports."""
    seen: list[tuple[Decimal, Decimal]] = []
    real = eng.on_fill

    def after(fill):
        real(fill)
        pos = eng.position(fill.symbol)
        seen.append((eng.orders.covered(fill.symbol), pos.qty if pos else Decimal(0)))

    eng.on_fill = after  # type: ignore[method-assign]
    return seen


# -- the whole position is protected -----------------------------------------------------------

def test_every_partial_entry_fill_leaves_a_stop_and_target_for_the_whole_open_quantity():
    eng, venue = make(parts=3)
    seen = watch_cover(eng)
    eng.process(flat(0))
    assert seen == [(Decimal("1.667"), Decimal("1.667")), (Decimal("3.334"), Decimal("3.334")),
                    (Decimal("5.001"), Decimal("5.001"))]
    [stop], [tp] = resting(venue, OrderType.STOP_MARKET), resting(venue, OrderType.TAKE_PROFIT_MARKET)
    assert (stop.qty, stop.stop_price, stop.reduce_only) == (Decimal("5.001"), Decimal("1996.00"), True)
    assert (tp.qty, tp.stop_price, tp.reduce_only) == (Decimal("5.001"), Decimal("2008.00"), True)
    assert eng.snapshot().unprotected == ()
    # Replace, then cancel: three stops were sent, the two smaller ones cancelled after.
    assert [i.qty for i in venue.sent if i.role is OrderRole.STOP] == [
        Decimal("1.667"), Decimal("3.334"), Decimal("5.001")]


def test_an_entry_that_expires_partly_filled_is_protected_for_what_filled():
    eng, venue = make(parts=3, expire_after=2)
    eng.process(flat(0))
    pos = eng.position(ETH)
    assert pos.qty == Decimal("3.334")
    [stop], [tp] = resting(venue, OrderType.STOP_MARKET), resting(venue, OrderType.TAKE_PROFIT_MARKET)
    assert stop.qty == tp.qty == Decimal("3.334")
    assert not eng.orders.working_entry(ETH)
    assert "Entry order BUY 5.001 ETHUSDT expired: IOC rest expired." in texts(eng)


def test_the_whole_partly_filled_position_stops_out_as_one_trade():
    eng, venue = make(parts=3)
    eng.process(flat(0))
    eng.process(bar(1, 2000, 2001, 1990, 1995))
    [trip] = eng.trades
    assert (trip.qty, trip.exit_price, trip.reason) == (Decimal("5.001"), Decimal("1996.00"),
                                                        "stop-loss")
    assert venue.orders == {} and eng.position(ETH) is None


# -- a stop counts once the venue acknowledged it ---------------------------------------------

def test_status_shows_a_stop_only_once_the_venue_acknowledged_it():
    eng, venue = make()
    venue.hold_acks = True
    eng.process(flat(0))
    snap = eng.snapshot()
    assert snap.positions[ETH].stop_loss is None and snap.unprotected == (ETH,)
    assert snap.to_json()["unprotected"] == [ETH]
    venue.release()
    snap = eng.snapshot()
    assert snap.positions[ETH].stop_loss == Decimal("1996.00") and snap.unprotected == ()


# -- no position without a stop, ever silently ----------------------------------------------------

def test_a_rejected_stop_is_re_sent_with_backoff_under_a_new_client_id():
    eng, venue = make()
    venue.reject[OrderRole.STOP] = ["-1001 internal error"]
    eng.process(flat(0))
    assert eng.snapshot().unprotected == (ETH,)
    eng.process(Trade(ETH, FILL_TS + 499, 2000.0, 1.0, False))
    assert len([i for i in venue.sent if i.role is OrderRole.STOP]) == 1  # backoff: not yet
    eng.process(Trade(ETH, FILL_TS + 500, 2000.0, 1.0, False))
    stops = [i for i in venue.sent if i.role is OrderRole.STOP]
    assert len(stops) == 2 and stops[0].client_id != stops[1].client_id
    assert eng.snapshot().unprotected == () and resting(venue, OrderType.STOP_MARKET)
    assert "re-sending the stop-loss order in 0.5 s (attempt 2)" in texts(eng)


def test_stop_that_would_trigger_then_a_rejected_exit_still_ends_flat_and_says_why():
    eng, venue = make()
    venue.reject[OrderRole.STOP] = ["-2021 Order would immediately trigger."]
    venue.reject[OrderRole.EXIT] = ["-2022 ReduceOnly Order is rejected."]
    eng.process(flat(0))
    assert eng.position(ETH) is not None and eng.snapshot().unprotected == (ETH,)
    eng.process(Trade(ETH, FILL_TS + 500, 1995.0, 1.0, False))  # the exit is re-sent
    assert eng.position(ETH) is None and venue.orders == {}
    [trip] = eng.trades
    assert trip.reason == "stop-loss"
    log = texts(eng)
    assert ("already beyond the stop-loss trigger 1996.00; closing at market instead"
            " (the position is unprotected until then)") in log
    assert "-2022 ReduceOnly Order is rejected" in log and "re-sending the exit order" in log
    assert eng.snapshot().unprotected == ()


def test_open_quantity_without_a_stop_for_the_grace_period_is_flattened_reduce_only():
    eng, venue = make()
    venue.reject[OrderRole.STOP] = ["-1001 internal error"] * 50
    eng.process(flat(0))
    for k in range(1, 12):
        eng.process(Trade(ETH, FILL_TS + k * 1000, 2000.0, 1.0, False))
        if eng.position(ETH) is None:
            break
    [trip] = eng.trades
    assert trip.exit_ts == FILL_TS + 10_000 and trip.reason == "no stop on the exchange"
    closes = [i for i in venue.sent if i.role is OrderRole.FLATTEN]
    assert len(closes) == 1 and closes[0].reduce_only
    assert ("UNPROTECTED ETHUSDT: 5.001 of 5.001 had no stop on the exchange for 10 s; "
            "closing it reduce-only at market.") in texts(eng, ExplanationKind.ERROR)


def test_the_grace_period_is_configurable():
    eng, venue = make()
    eng.orders.grace_ms = 3_000
    venue.reject[OrderRole.STOP] = ["-1001 internal error"] * 50
    eng.process(flat(0))
    for k in range(1, 6):
        eng.process(Trade(ETH, FILL_TS + k * 1000, 2000.0, 1.0, False))
    assert eng.trades[0].exit_ts == FILL_TS + 3_000
    assert RiskConfig().unprotected_grace_s == 10.0


# -- an entry is never duplicated --------------------------------------------------------------

def test_an_entry_with_unknown_outcome_blocks_new_entries_and_its_late_fill_is_protected():
    eng, venue = make({0: long_at_close(), 1: long_at_close()})
    venue.unknown_entries = True
    eng.process(flat(0))
    assert eng.orders.working_entry(ETH) and eng.position(ETH) is None
    eng.process(flat(1))  # the strategy asks again: refused, not re-sent
    assert "an entry is already working on ETHUSDT" in texts(eng, ExplanationKind.REFUSED)
    assert "outcome unknown (503 from Binance)" in texts(eng, ExplanationKind.ERROR)
    venue.unknown_entries = False
    venue.settle()  # it was live after all, and fills now
    assert eng.position(ETH).qty == Decimal("5.001")
    [stop] = resting(venue, OrderType.STOP_MARKET)
    assert stop.qty == Decimal("5.001") and eng.snapshot().unprotected == ()
    assert len([i for i in venue.sent if i.role is OrderRole.ENTRY]) == 1


def test_a_rejected_entry_is_never_re_sent():
    eng, venue = make({0: long_at_close()})
    venue.reject[OrderRole.ENTRY] = ["-2019 Margin is insufficient."]
    eng.process(flat(0))
    for i in range(1, 4):
        eng.process(Trade(ETH, FILL_TS + i * 1000, 2000.0, 1.0, False))
    assert len([i for i in venue.sent if i.role is OrderRole.ENTRY]) == 1
    assert not eng.orders.working_entry(ETH) and eng.position(ETH) is None


def test_only_reduce_only_orders_are_ever_re_sent():
    eng, venue = make()
    venue.reject[OrderRole.STOP] = ["-1001 internal error"] * 3
    venue.reject[OrderRole.TAKE_PROFIT] = ["-1001 internal error"] * 3
    eng.process(flat(0))
    for k in range(1, 30):
        eng.process(Trade(ETH, FILL_TS + k * 500, 2000.0, 1.0, False))
    counts: dict[str, int] = {}
    for i in venue.sent:
        counts[i.client_id] = counts.get(i.client_id, 0) + 1
    assert set(counts.values()) == {1}  # a re-send always carries a new client id
    assert all(i.reduce_only for i in venue.sent if i.role is not OrderRole.ENTRY)


def test_a_short_is_protected_above_and_below_the_same_way():
    def short(b):
        from tapedesk.engine.events import Signal
        return Signal("scripted", ETH, Side.SHORT, b.ts, 2000.0, 2004.0, 1992.0)

    eng, venue = make({0: short}, parts=2)
    eng.process(flat(0))
    [stop], [tp] = resting(venue, OrderType.STOP_MARKET), resting(venue, OrderType.TAKE_PROFIT_MARKET)
    assert (stop.side, stop.stop_price, stop.qty) == ("BUY", Decimal("2004.00"),
                                                      eng.position(ETH).qty)
    assert (tp.side, tp.stop_price) == ("BUY", Decimal("1992.00"))


def test_a_fill_of_an_entry_reported_rejected_still_gets_its_stop_and_target():
    from tapedesk.engine.events import Liquidity
    from tapedesk.engine.paper_venue import _Resting

    eng, venue = make()
    venue.reject[OrderRole.ENTRY] = ["not accepted after one re-send"]
    eng.process(flat(0))
    [entry] = [i for i in venue.sent if i.role is OrderRole.ENTRY]
    assert eng.position(ETH) is None and not eng.orders.working_entry(ETH)
    # ...but the first attempt had reached the exchange, and its fill arrives now.
    venue._fill(_Resting(entry, 0), Decimal("2000.00"), Liquidity.TAKER, FILL_TS + 300)
    assert eng.position(ETH).qty == Decimal("5.001")
    [stop], [tp] = resting(venue, OrderType.STOP_MARKET), resting(venue, OrderType.TAKE_PROFIT_MARKET)
    assert stop.qty == tp.qty == Decimal("5.001") and eng.snapshot().unprotected == ()
