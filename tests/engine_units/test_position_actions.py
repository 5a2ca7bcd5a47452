"""Acting on one position (engine.position_actions): break-even arithmetic by hand and as a
property, and the close / break-even rules through the real engine and paper venue.

Numbers for the engine cases as in test_orders: ETH at 2000, stop 1996, target 2008, taker
5 bps, 10,000 equity → 5.001 ETH long; its entry fee 2000 × 5.001 × 0.0005 = 5.001.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from tapedesk.engine.events import (
    ExplanationKind,
    OrderRole,
    OrderStatus,
    OrderUpdate,
    Position,
    Side,
    Signal,
)
from tapedesk.engine.position_actions import REENTRY_PAUSE_MS, break_even_stop, settled
from tapedesk.engine.symbols import spec_for

from tests.engine_units._helpers import MIN, ScriptedStrategy, bar, long_at_close
from tests.engine_units._venues import ScriptedVenue
from tests.engine_units.test_orders import ETH, flat, make

D = Decimal
BTC = spec_for("BTCUSDT")  # tick 0.1


def _pos(side: Side, entry: str, qty: str, fees: str) -> Position:
    return Position("BTCUSDT", side, D(qty), D(entry), 5, 0, fees=D(fees))


def _net(pos: Position, stop: Decimal, fee: Decimal) -> Decimal:
    """The whole trade's P&L if the stop fills exactly at its trigger."""
    return ((stop - pos.entry_price) * pos.qty * pos.side.sign - pos.fees + pos.funding
            - stop * pos.qty * fee)


def test_break_even_by_hand_long_and_short():
    fee = D("0.0005")
    # Long 0.003 @ 60,000, entry fee 0.09: S = 180.09 / (0.003 × 0.9995) = 60,060.03… → up.
    long = _pos(Side.LONG, "60000", "0.003", "0.09")
    assert break_even_stop(long, fee, BTC) == D("60060.1")
    assert _net(long, D("60060.1"), fee) >= 0 > _net(long, D("60060.0"), fee)
    # Short: S = 179.91 / (0.003 × 1.0005) = 59,940.03… → down.
    short = _pos(Side.SHORT, "60000", "0.003", "0.09")
    assert break_even_stop(short, fee, BTC) == D("59940.0")
    assert _net(short, D("59940.0"), fee) >= 0 > _net(short, D("59940.1"), fee)
    # Funding received lowers what a stop-out must cover; funding paid raises it.
    long.funding = D("0.06")
    assert break_even_stop(long, fee, BTC) == D("60040.1")


@given(side=st.sampled_from([Side.LONG, Side.SHORT]),
       entry=st.decimals("1000", "200000", places=1),
       qty=st.decimals("0.001", "5", places=3),
       fee_bps=st.integers(0, 10),
       funding=st.decimals("-5", "5", places=4))
def test_break_even_is_the_nearest_tick_that_covers_every_fee(side, entry, qty, fee_bps,
                                                               funding):
    fee = D(fee_bps) / 10_000
    pos = _pos(side, str(entry), str(qty), str(entry * qty * fee))
    pos.funding = funding
    be = break_even_stop(pos, fee, BTC)
    assert be % BTC.tick_size == 0
    assert _net(pos, be, fee) >= 0
    assert _net(pos, be - side.sign * BTC.tick_size, fee) < 0  # one tick closer loses


# -- through the real engine ---------------------------------------------------------------

def _opened():
    eng, venue = make({0: long_at_close(), 2: long_at_close(), 20: long_at_close()})
    eng.process(flat(0))
    assert eng.position(ETH) is not None
    return eng, venue


def _sent(venue: ScriptedVenue, role: OrderRole) -> list:
    return [i for i in venue.sent if i.role is role]


async def test_a_manual_close_ends_the_trade_as_manual_and_keeps_the_desk_running():
    eng, venue = _opened()
    await eng.pause()
    res = await eng.close_manually(ETH.lower())
    assert res.done and eng.position(ETH) is None
    [close] = _sent(venue, OrderRole.FLATTEN)
    assert (close.side, close.qty, close.reduce_only) == ("SELL", D("5.001"), True)
    assert eng.trades[-1].reason == "manual" and eng.paused and not eng.halted
    assert venue.orders == {}  # the stop and target went with the position


async def test_a_close_racing_a_stop_fill_is_never_sent_twice():
    """The stop fills on the exchange first: the reduce-only close is refused (-2022) while
    the book still holds the position; once the stop's fill arrives nothing is re-sent."""
    eng, venue = _opened()
    venue.reject[OrderRole.FLATTEN] = ["Binance -2022: ReduceOnly Order is rejected."]
    res = await eng.close_manually(ETH)
    assert res.done
    eng.process(bar(1, 2000, 2001, 1990, 1995))  # through the stop at 1996
    for i in range(2, 6):
        eng.process(flat(i))
    assert eng.position(ETH) is None and len(_sent(venue, OrderRole.FLATTEN)) == 1
    assert [t.reason for t in eng.trades] == ["stop-loss"]
    assert (await eng.close_manually(ETH)).text.endswith("no open position on ETHUSDT. "
                                                         "Nothing sent.")


async def test_a_second_close_while_one_works_sends_nothing():
    eng, venue = _opened()
    real = venue.submit

    def hold_closes(intent):  # the venue acknowledges the close but it has not filled yet
        if intent.role is OrderRole.FLATTEN:
            venue.sent.append(intent)
            venue._sink.on_order_update(OrderUpdate(intent.client_id, intent.symbol,
                                                    OrderStatus.NEW, venue._now))
            return
        real(intent)

    venue.submit = hold_closes
    assert (await eng.close_manually(ETH)).done
    second = await eng.close_manually(ETH)
    assert not second.done and "a close is already working" in second.text
    assert len(_sent(venue, OrderRole.FLATTEN)) == 1
    assert not (await eng.stop_to_breakeven(ETH)).done  # no stop moved under a close


async def test_the_same_strategy_does_not_re_enter_the_same_way_right_after_a_manual_close():
    eng, venue = _opened()
    eng.process(flat(1))
    await eng.close_manually(ETH)
    eng.process(flat(2))  # the script's long again, one minute later: refused
    refused = [e for e in eng.recent if e.kind is ExplanationKind.REFUSED]
    assert refused and refused[-1].rule == "after_manual_close"
    assert eng.position(ETH) is None and len(_sent(venue, OrderRole.ENTRY)) == 1
    assert 20 * MIN > REENTRY_PAUSE_MS
    for i in range(3, 21):  # bar 20: past the pause, the same signal is taken
        eng.process(flat(i))
    assert eng.position(ETH) is not None and len(_sent(venue, OrderRole.ENTRY)) == 2


async def test_break_even_refused_below_it_then_amended_new_first_old_cancelled():
    eng, venue = _opened()
    pos = eng.position(ETH)
    be = break_even_stop(pos, eng.orders.costs.taker_fee, eng.spec(ETH))
    # 2000 × 5.001 + 5.001 fee over 5.001 × 0.9995 = 2002.0010… → up to the 0.01 tick.
    assert be == D("2002.01")
    stops_before = len(_sent(venue, OrderRole.STOP))
    res = await eng.stop_to_breakeven(ETH)  # price 2000: below break-even
    assert not res.done and "a long stop must be below the price" in res.text
    assert len(_sent(venue, OrderRole.STOP)) == stops_before and pos.stop_loss == D("1996.00")
    eng.process(bar(1, 2000, 2004, 2000, 2004))  # under the 2008 target
    res = await eng.stop_to_breakeven(ETH)
    assert res.done and pos.stop_loss == be
    [stop] = [r.intent for r in venue.orders.values() if r.intent.role is OrderRole.STOP]
    assert (stop.stop_price, stop.qty, stop.reduce_only) == (be, D("5.001"), True)
    assert "break-even 2002.01 = entry 2000" in "\n".join(e.text for e in eng.recent)
    again = await eng.stop_to_breakeven(ETH)  # nothing to do: said, nothing sent
    assert again.done and "already at break-even" in again.text
    assert len(_sent(venue, OrderRole.STOP)) == stops_before + 1
    eng.process(bar(2, 2004, 2004, 2001, 2001))  # through the new stop
    assert eng.trades[-1].reason == "stop-loss" and eng.trades[-1].pnl >= 0


async def test_a_moved_stop_the_venue_refuses_leaves_the_old_one_and_says_so():
    eng, venue = _opened()
    eng.process(bar(1, 2000, 2004, 2000, 2004))
    venue.reject[OrderRole.STOP] = ["Binance -2021: Order would immediately trigger."]
    res = await eng.stop_to_breakeven(ETH)
    assert res.done  # sent; the venue's answer is in the log
    assert eng.position(ETH).stop_loss == D("1996.00")
    assert eng.orders.plans[ETH].stop == D("1996.00")
    assert "stop NOT moved to 2002.01" in "\n".join(e.text for e in eng.recent)
    said = await settled(eng, ETH, close=False, timeout=1.0, stop=res.stop)
    assert said == ("ETHUSDT: the venue did NOT take the stop at 2002.01; it holds the stop at "
                    "1996.00 (the desk's log says why).")


async def test_halted_without_a_running_emergency_stop_still_closes_and_moves_stops():
    """A desk that restarts HALTED with a position (killed mid emergency stop): the trader
    may still close it or tighten its stop; the halt stays."""
    eng, _venue = _opened()
    eng.set_halted()
    eng.process(bar(1, 2000, 2004, 2000, 2004))
    assert (await eng.stop_to_breakeven(ETH)).done
    assert (await eng.close_manually(ETH)).done and eng.position(ETH) is None
    assert eng.halted and eng.trades[-1].reason == "manual"


async def test_while_the_emergency_stop_works_nothing_more_is_sent():
    eng, venue = _opened()
    eng.orders.halt()  # the emergency stop's own step: it closes every position itself
    before = len(venue.sent)
    for act in (eng.close_manually, eng.stop_to_breakeven):
        res = await act(ETH)
        assert not res.done and "the emergency stop is closing every position" in res.text
    assert len(venue.sent) == before


async def test_a_short_moves_its_stop_down_to_break_even():
    def short(b):
        return Signal(ScriptedStrategy.name, b.symbol, Side.SHORT, b.ts, b.close, 2004.0,
                      1992.0)

    eng, _venue = make({0: short})
    eng.process(flat(0))
    pos = eng.position(ETH)
    be = break_even_stop(pos, eng.orders.costs.taker_fee, eng.spec(ETH))
    assert be < pos.entry_price
    res = await eng.stop_to_breakeven(ETH)  # price 2000 is above a short's break-even
    assert not res.done and "a short stop must be above the price" in res.text
    eng.process(bar(1, 2000, 2000, 1996, 1996))
    assert (await eng.stop_to_breakeven(ETH)).done and pos.stop_loss == be


async def test_a_strategy_exit_while_a_manual_close_works_sends_no_second_close():
    """The trader's close is acknowledged, not filled; the strategy's own exit on the next bar
    must not send a second reduce-only close, nor relabel the trade's exit."""
    from dataclasses import replace

    from tapedesk.engine.events import Fill, Liquidity, SignalKind

    def exit_at_close(b):
        return replace(long_at_close()(b), kind=SignalKind.EXIT)

    eng, venue = make({0: long_at_close(), 1: exit_at_close})
    eng.process(flat(0))
    real, held = venue.submit, []

    def hold_closes(intent):
        if intent.role in (OrderRole.FLATTEN, OrderRole.EXIT):
            venue.sent.append(intent)
            held.append(intent)
            venue._sink.on_order_update(OrderUpdate(intent.client_id, intent.symbol,
                                                    OrderStatus.NEW, venue._now))
            return
        real(intent)

    venue.submit = hold_closes
    assert (await eng.close_manually(ETH)).done
    eng.process(flat(1))  # the strategy says exit
    assert _sent(venue, OrderRole.EXIT) == [] and len(held) == 1
    close = held[0]
    venue.submit = real
    eng.on_fill(Fill(close.client_id, ETH, "SELL", close.qty, D("2000"), D("5.001"), venue._now,
                     Liquidity.TAKER, OrderRole.FLATTEN, trade_id="x1"))
    assert eng.position(ETH) is None and eng.trades[-1].reason == "manual"
