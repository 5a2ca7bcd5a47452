"""Attacks on the fill-lean branch (b401954..98636f1): memos keyed on object identity
(``positions.decimal_price``, the venue's liquidation level as float, the portfolio's exit
price step), side->order-side tables instead of ``Side`` properties, the mid-bar stop
re-check listing only stops, ``EquityHistory.add``. Each test states the behaviour the
slower code had, derived by hand, and drives the cases the backtest goldens do not reach:
two symbols interleaved, a level that moves, a spec replaced at run time, -0.0 / NaN /
equal-but-distinct prices, every side combination of a reduce-only order."""

from __future__ import annotations

import struct
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine.equity_history import EquityHistory
from tapedesk.engine.events import (
    Bar,
    Fill,
    Liquidity,
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderType,
    Position,
    Side,
)
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.portfolio import Portfolio
from tapedesk.engine.positions import decimal_price, unrealized
from tapedesk.engine.symbols import spec_for

from tests.engine_units._helpers import MIN, T0, RecordingSink

BTC, ETH = "BTCUSDT", "ETHUSDT"


def _copy(x: float) -> float:
    """An equal float that is a different object (the memo must not care which it gets)."""
    return struct.unpack("d", struct.pack("d", x))[0]


def _text(d: Decimal) -> tuple[str, object]:
    return str(d), d.as_tuple()  # NaN != NaN: compare the text and the digits/exponent


# -- positions.decimal_price: the memo shared by equity and the margin check -----------------

_PRICES = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0.0, -0.0, 1e-7, 5e-324, 0.1, 100.0, 1e22]),
                    st.decimals(allow_nan=False, allow_infinity=False, places=4),
                    st.sampled_from([Decimal("1.1"), Decimal("1.10"), Decimal("-0"),
                                     Decimal(0)]),
                    st.integers(-10, 10**6))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_PRICES, st.sampled_from(["same", "copy", "prev"])), max_size=30))
def test_decimal_price_is_always_the_text_of_the_very_value_it_is_given(steps):
    """Whatever came before (the same object again, an equal float that is another object,
    the previous one back), the answer is ``Decimal(str(x))`` of *this* value, with its
    exponent: 1.1 and 1.10, 0.0 and -0.0 are equal but not the same text."""
    prev = None
    for value, how in steps:
        x = value
        if how == "copy" and type(value) is float:
            x = _copy(value)
        elif how == "prev" and prev is not None:
            x = prev
        assert _text(decimal_price(x)) == _text(Decimal(str(x)))
        prev = x


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([BTC, ETH]),
                          st.floats(0.01, 1e6, allow_nan=False), st.booleans()),
                min_size=1, max_size=40))
def test_unrealized_of_two_symbols_interleaved_uses_each_ones_own_price(ticks):
    """The equity asks for BTC's and ETH's P&L in turn, and the venue's margin check asks
    in between: each answer is that position's (last - entry) * qty * sign."""
    pos = {BTC: Position(BTC, Side.LONG, Decimal("0.5"), Decimal("40000"), 5, 0),
           ETH: Position(ETH, Side.SHORT, Decimal("3"), Decimal("2500"), 5, 0)}
    last: dict[str, float] = {BTC: 40_000.0, ETH: 2_500.0}
    for sym, px, margin_check_between in ticks:
        last[sym] = px
        for s in (BTC, ETH):
            if margin_check_between:
                decimal_price(last[BTC if s == ETH else ETH])
            p = pos[s]
            want = (Decimal(str(last[s])) - p.entry_price) * p.qty * p.side.sign
            assert unrealized(p, last[s]) == want
            assert unrealized(p, _copy(last[s])) == want


def _venue(balance: str = "10000", **kw: object) -> tuple[PaperVenue, RecordingSink]:
    opts: dict[str, object] = {"slippage_bps": 0.0, "latency_ms": 0, "fill_at": "close",
                               "assumed_funding_bps_8h": 0.0}
    opts.update(kw)
    v = PaperVenue(Decimal(balance), **opts)  # type: ignore[arg-type]
    sink = RecordingSink()
    v.bind(sink)
    return v, sink


def _bar(sym: str, i: int, o: float, h: float, lo: float, c: float) -> Bar:
    open_ts = T0 + i * MIN
    return Bar(sym, open_ts, open_ts + MIN - 1, o, h, lo, c, 1.0)


def _flat(sym: str, i: int, px: float) -> Bar:
    return _bar(sym, i, px, px, px, px)


def _intent(cid: str, sym: str, side: str, qty: str, *, typ: OrderType = OrderType.MARKET,
            role: OrderRole = OrderRole.ENTRY, ts: int = T0, stop: str | None = None,
            reduce_only: bool = False) -> OrderIntent:
    return OrderIntent(cid, sym, side, typ, Decimal(qty), role, ts, None,
                       Decimal(stop) if stop else None, reduce_only)


def test_the_margin_check_values_each_order_at_its_own_symbols_last_price():
    """Margin need = qty * last / leverage with the *order's* symbol's last price, however
    the memo was last filled (another symbol's price, an equal float object)."""
    v, sink = _venue("1000")
    v.on_market(_flat(BTC, 0, 40_000.0))
    v.on_market(_flat(ETH, 0, 2_000.0))
    v.set_leverage(ETH, 1)
    # BTC's price converted last (as the equity does between two events) ...
    decimal_price(v.last_price[BTC])
    # ... an ETH order needing 0.501 * 2000 = 1002 is refused, 0.5 (1000: all there is) not.
    v.submit(_intent("big", ETH, "BUY", "0.501", ts=T0 + MIN))
    assert "needs 1002.00 USDT, 1000.00 available" in sink.reason_of("big")
    v.submit(_intent("ok", ETH, "BUY", "0.5", ts=T0 + MIN))
    assert sink.status_of("ok")[:2] == [OrderStatus.NEW, OrderStatus.FILLED]
    v.on_market(_flat(ETH, 1, _copy(2_000.0)))
    v.set_leverage(BTC, 125)
    decimal_price(v.last_price[ETH])
    # BTC: 0.003 * 40000 / 125 = 0.96 USDT needed, nothing left after ETH's 1000 -> refused,
    # and the words name BTC's own need (not ETH's price: 0.05).
    v.submit(_intent("no", BTC, "BUY", "0.003", ts=T0 + 2 * MIN))
    assert sink.status_of("no") == [OrderStatus.REJECTED]
    assert "needs 0.96 USDT" in sink.reason_of("no")


@pytest.mark.parametrize("last", [0.0, -0.0, None])
def test_an_order_without_a_market_price_is_refused_whatever_the_memo_holds(last):
    v, sink = _venue()
    decimal_price(-0.0)
    decimal_price(123.0)
    if last is not None:
        v.last_price[ETH] = last
    v.submit(_intent("e", ETH, "BUY", "1"))
    assert sink.status_of("e") == [OrderStatus.REJECTED]
    assert sink.reason_of("e") == "no market price yet: the order cannot be valued"


# -- order sides: the Side attributes the order owner and the venue read ------------------

def test_each_side_opens_with_its_order_side_and_closes_with_the_other():
    for side in Side:
        assert side.order_side == ("BUY" if side is Side.LONG else "SELL")
        assert side.opposite.order_side != side.order_side


@pytest.mark.parametrize("pos_side", ["BUY", "SELL", None])
@pytest.mark.parametrize("order_side", ["BUY", "SELL"])
@pytest.mark.parametrize("typ", [OrderType.MARKET, OrderType.STOP_MARKET])
def test_a_reduce_only_order_is_refused_exactly_when_it_would_not_reduce(pos_side, order_side,
                                                                         typ):
    v, sink = _venue()
    v.on_market(_flat(ETH, 0, 2_000.0))
    if pos_side:
        v.submit(_intent("e", ETH, pos_side, "1", ts=T0 + MIN - 1))
    role = OrderRole.EXIT if typ is OrderType.MARKET else OrderRole.STOP
    stop = ("1900" if order_side == "SELL" else "2100") if typ is OrderType.STOP_MARKET else None
    v.submit(_intent("r", ETH, order_side, "1", typ=typ, role=role, ts=T0 + MIN - 1, stop=stop,
                     reduce_only=True))
    reduces = pos_side is not None and pos_side != order_side
    if reduces:
        assert OrderStatus.REJECTED not in sink.status_of("r")
    else:
        assert sink.status_of("r") == [OrderStatus.REJECTED]
        assert sink.reason_of("r").startswith("-2022 ReduceOnly")


@pytest.mark.parametrize("first", ["BUY", "SELL"])
def test_a_resting_reduce_only_stop_expires_when_the_position_flipped_under_it(first):
    """Accepted while it reduced; by its trigger the position is the other way round: the
    fill finds it would add, so it expires and the books stay as they were."""
    other = "SELL" if first == "BUY" else "BUY"
    v, sink = _venue()
    v.on_market(_flat(ETH, 0, 2_000.0))
    v.submit(_intent("e", ETH, first, "1", ts=T0 + MIN - 1))
    stop = "1990" if other == "SELL" else "2010"
    v.submit(_intent("sl", ETH, other, "1", typ=OrderType.STOP_MARKET, role=OrderRole.STOP,
                     ts=T0 + MIN - 1, stop=stop, reduce_only=True))
    v.submit(_intent("flip", ETH, other, "2", ts=T0 + MIN - 1))  # now the other side, 1
    held = v.book.positions[ETH]
    assert held.side is (Side.SHORT if first == "BUY" else Side.LONG)
    v.on_market(_bar(ETH, 1, 2_000.0, 2_020.0, 1_980.0, 2_000.0))
    assert sink.status_of("sl") == [OrderStatus.NEW, OrderStatus.EXPIRED]
    assert v.book.positions[ETH].qty == 1 and v.book.positions[ETH].side is held.side


# -- the mid-bar stop re-check ---------------------------------------------------------------

class _Protecting(RecordingSink):
    """Places a stop, a target and a resting limit from an entry's fill (inside the venue's
    callback, as the engine does), and a stop on another symbol."""

    venue: PaperVenue

    def on_fill(self, fill: Fill) -> None:
        super().on_fill(fill)
        if fill.role is not OrderRole.ENTRY or fill.symbol != ETH:
            return
        v, ts = self.venue, fill.ts
        v.submit(_intent("sl", ETH, "SELL", "1", typ=OrderType.STOP_MARKET, role=OrderRole.STOP,
                         ts=ts, stop="1990", reduce_only=True))
        v.submit(_intent("tp", ETH, "SELL", "1", typ=OrderType.TAKE_PROFIT_MARKET,
                         role=OrderRole.TAKE_PROFIT, ts=ts, stop="2010", reduce_only=True))
        v.submit(OrderIntent("lim", ETH, "BUY", OrderType.LIMIT, Decimal("0.1"),
                             OrderRole.ENTRY, ts, Decimal("1985")))
        v.submit(_intent("btc-sl", BTC, "SELL", "0.01", typ=OrderType.STOP_MARKET,
                         role=OrderRole.STOP, ts=ts, stop="1995", reduce_only=True))


def _protecting_venue() -> tuple[PaperVenue, _Protecting]:
    v = PaperVenue(Decimal(100_000), slippage_bps=0.0, latency_ms=0, fill_at="next-open",
                   assumed_funding_bps_8h=0.0)
    sink = _Protecting()
    sink.venue = v
    v.bind(sink)
    v.on_market(_flat(BTC, 0, 40_000.0))
    v.submit(_intent("be", BTC, "BUY", "0.01", ts=T0 + MIN - 1))
    v.on_market(_flat(BTC, 1, 40_000.0))  # BTC long 0.01 filled at this bar's open
    v.on_market(_flat(ETH, 0, 2_000.0))
    v.submit(_intent("e", ETH, "BUY", "1", ts=T0 + MIN - 1))
    return v, sink


def test_a_stop_placed_by_the_entry_fill_fills_at_its_trigger_in_that_bar_and_nothing_else():
    """The entry fills at the bar's open; its stop is live for the rest of the bar (filled
    at the trigger: the worse case); the target, the limit and another symbol's stop whose
    level the bar also crossed wait."""
    v, sink = _protecting_venue()
    v.on_market(_bar(ETH, 1, 2_000.0, 2_020.0, 1_980.0, 2_000.0))
    fills = [(f.client_id, f.price, f.ts) for f in sink.fills if f.symbol == ETH]
    assert fills == [("e", Decimal("2000.00"), T0 + MIN), ("sl", Decimal("1990.00"), T0 + 2 * MIN - 1)]
    assert ETH not in v.book.positions
    assert "tp" in v.orders and "lim" in v.orders and "btc-sl" in v.orders
    assert v.book.positions[BTC].qty == Decimal("0.01")


def test_a_bar_inside_the_stop_leaves_every_mid_bar_order_resting():
    v, sink = _protecting_venue()
    v.on_market(_bar(ETH, 1, 2_000.0, 2_020.0, 1_991.0, 2_000.0))
    assert [f.client_id for f in sink.fills if f.symbol == ETH] == ["e"]
    assert {"sl", "tp", "lim", "btc-sl"} <= set(v.orders)


# -- the liquidation level as float, converted once per level --------------------------------

def _long(v: PaperVenue, sym: str, i: int, px: float, qty: str, lev: int, cid: str) -> Decimal:
    v.set_leverage(sym, lev)
    v.on_market(_flat(sym, i, px))
    v.submit(_intent(cid, sym, "BUY", qty, ts=T0 + (i + 1) * MIN - 1))
    return v.book.positions[sym].liquidation_price


def test_two_symbols_interleaved_are_each_liquidated_at_their_own_level_only():
    v, sink = _venue("100000")
    lp_btc = _long(v, BTC, 0, 40_000.0, "1", 20, "b")
    lp_eth = _long(v, ETH, 0, 2_000.0, "10", 20, "e")
    assert 0 < lp_eth < 2_000 < lp_btc < 40_000
    i = 1
    for _ in range(3):  # quiet bars, just above each level, alternating
        v.on_market(_bar(BTC, i, 40_000.0, 40_000.0, float(lp_btc) + 1, 40_000.0))
        v.on_market(_bar(ETH, i, 2_000.0, 2_000.0, float(lp_eth) + 0.01, 2_000.0))
        i += 1
    assert not [f for f in sink.fills if f.role is OrderRole.LIQUIDATION]
    v.on_market(_bar(ETH, i, 2_000.0, 2_000.0, float(lp_eth), 2_000.0))  # reaches ETH's
    v.on_market(_bar(BTC, i, 40_000.0, 40_000.0, float(lp_btc) + 1, 40_000.0))
    liq = [(f.symbol, f.price) for f in sink.fills if f.role is OrderRole.LIQUIDATION]
    assert liq == [(ETH, lp_eth)]
    assert BTC in v.book.positions


def test_a_bar_reaching_an_order_but_not_the_level_does_not_liquidate_after_another_symbol():
    """The liquidation check after a bar that reached a resting (not yet active) stop, right
    after the other symbol's level was converted: it must compare with this symbol's level."""
    v, sink = _venue("100000", latency_ms=10 * MIN)  # fill_at=close still fills at once
    lp_btc = _long(v, BTC, 0, 40_000.0, "1", 20, "b")
    lp_eth = _long(v, ETH, 0, 2_000.0, "10", 20, "e")
    guard = Decimal(int(lp_eth) + 30)
    v.submit(_intent("sl", ETH, "SELL", "10", typ=OrderType.STOP_MARKET, role=OrderRole.STOP,
                     ts=T0 + MIN, stop=str(guard), reduce_only=True))  # active 10 min later
    v.on_market(_flat(ETH, 1, 2_000.0))  # ETH's band (its level converted) ...
    v.on_market(_flat(BTC, 1, 40_000.0))  # ... then BTC's
    v.on_market(_bar(ETH, 2, 2_000.0, 2_000.0, float(lp_eth) + 5, 2_000.0))
    assert float(lp_eth) + 5 < float(guard) < float(lp_btc)
    assert not [f for f in sink.fills if f.role is OrderRole.LIQUIDATION]
    assert v.book.positions[ETH].qty == 10 and "sl" in v.orders


def test_a_level_that_moves_with_an_added_fill_is_the_one_checked():
    """Adding at a higher price raises a long's level: a bar between the old and the new
    level liquidates; before the add the same bar did not."""
    v, sink = _venue("100000")
    old = _long(v, ETH, 0, 2_000.0, "10", 20, "e1")
    v.on_market(_bar(ETH, 1, 2_000.0, 2_000.0, float(old) + 0.5, 2_000.0))  # level cached
    new = _long(v, ETH, 2, 2_100.0, "10", 20, "e2")
    assert new > old + 1
    between = float(old) + 0.5
    v.on_market(_bar(ETH, 3, 2_100.0, 2_100.0, between, 2_100.0))
    liq = [f for f in sink.fills if f.role is OrderRole.LIQUIDATION]
    assert [(f.price, f.qty) for f in liq] == [(new, Decimal(20))]


def test_a_level_that_falls_after_a_partial_close_and_a_leverage_change_is_the_one_checked():
    """A new position at lower leverage after the first was closed: its lower level is used,
    not the one converted for the earlier position."""
    v, sink = _venue("100000")
    high = _long(v, ETH, 0, 2_000.0, "10", 50, "e1")
    v.submit(_intent("x", ETH, "SELL", "10", role=OrderRole.EXIT, ts=T0 + MIN,
                     reduce_only=True))
    low = _long(v, ETH, 1, 2_000.0, "10", 5, "e2")
    assert low < high
    v.on_market(_bar(ETH, 2, 2_000.0, 2_000.0, float(high) - 1, 2_000.0))
    assert not [f for f in sink.fills if f.role is OrderRole.LIQUIDATION]
    assert v.book.positions[ETH].qty == 10


# -- equity samples, the portfolio's exit price step -----------------------------------------

@settings(max_examples=150, deadline=None)
@given(st.integers(8, 24), st.lists(st.tuples(st.integers(0, 2**62),
                                               st.floats(-1e12, 1e12, allow_nan=False)),
                                     max_size=120))
def test_add_keeps_the_same_points_as_append_thinning_included(cap, points):
    by_add, by_append = EquityHistory(cap=cap), EquityHistory(cap=cap)
    for ts, eq in points:
        by_add.add(ts, eq)
        by_append.append((ts, eq))
    assert list(by_add) == list(by_append) and by_add.thinned == by_append.thinned
    assert len(by_add) <= cap


def _trip(book: Portfolio, sym: str, entry: str, exits: list[str], spec, n: int):
    fill = Fill(f"o{n}", sym, "BUY", Decimal(len(exits)), Decimal(entry), Decimal(0), n,
                Liquidity.TAKER, OrderRole.ENTRY)
    book.fill(fill, 1, "s", spec)
    effect = None
    for k, px in enumerate(exits):
        out = Fill(f"x{n}{k}", sym, "SELL", Decimal(1), Decimal(px), Decimal(0), n + 1,
                   Liquidity.TAKER, OrderRole.EXIT)
        effect = book.fill(out, 1, "s", spec)
    assert effect is not None and effect.closed is not None
    return book.close(effect.closed, out, "exit", spec)


def test_the_exit_price_step_follows_a_spec_replaced_at_run_time_and_each_symbol():
    """An exit's average is kept to 1/100 of *this* spec's tick: a refreshed exchangeInfo
    (a new spec object with another tick), and two symbols in turn, each use their own."""
    pf = Portfolio(Decimal(10**9))
    btc, eth = spec_for(BTC), spec_for(ETH)
    finer = replace(btc, tick_size=Decimal("0.001"))
    exits = ["100.123", "100.1", "100"]  # average 100.0743333...
    seen = []
    for n, spec in enumerate([btc, eth, btc, finer, finer, btc, eth]):
        trip = _trip(pf, spec.symbol, "100", exits, spec, 10 * n)
        seen.append(trip.exit_price)
        assert trip.exit_price == (sum(map(Decimal, exits)) / 3).quantize(spec.tick_size / 100)
        assert trip.exit_price.as_tuple().exponent == (spec.tick_size / 100).as_tuple().exponent
    assert seen[3] != seen[2]  # the finer tick did change the figure
