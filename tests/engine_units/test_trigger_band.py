"""The paper venue's trigger band: an event inside it is skipped, so it must never be stale.

Each case first lets quiet bars build (and use) the band, then changes what rests or what is
open, and checks that the very next event that reaches a level is not skipped. A reference
venue whose band always says "look" (the full check on every event) must agree fill for fill
on random data.
"""

from __future__ import annotations

import random
from decimal import Decimal

from tapedesk.engine.backtest import BacktestVenue
from tapedesk.engine.events import Fill, OrderRole, OrderStatus, OrderType, Quote
from tapedesk.engine.paper_venue import PaperVenue

from tests.engine_units._helpers import MIN, T0, RecordingSink, bar, order

ETH = "ETHUSDT"


def make(cls: type[PaperVenue] = PaperVenue, **kw: object) -> tuple[PaperVenue, RecordingSink]:
    opts: dict[str, object] = {"slippage_bps": 0.0, "latency_ms": 0, "fill_at": "close",
                               "assumed_funding_bps_8h": 0.0, **kw}
    v = cls(Decimal(10_000), **opts)  # type: ignore[arg-type]
    sink = RecordingSink()
    v.bind(sink)
    return v, sink


def long_with_stop(v: PaperVenue, stop: str = "99", target: str = "101") -> None:
    v.on_market(bar(0, 100, 100, 100, 100))
    v.submit(order("e", "BUY", ts=T0 + MIN - 1))
    v.submit(order("sl", "SELL", OrderType.STOP_MARKET, role=OrderRole.STOP, ts=T0 + MIN - 1,
                   stop=stop, reduce_only=True))
    v.submit(order("tp", "SELL", OrderType.TAKE_PROFIT_MARKET, role=OrderRole.TAKE_PROFIT,
                   ts=T0 + MIN - 1, stop=target, reduce_only=True))


def quiet(v: PaperVenue, first: int, n: int = 5) -> int:
    """``n`` bars that reach nothing between 99.5 and 100.5 (the band is built and used)."""
    for i in range(first, first + n):
        v.on_market(bar(i, 100, 100.4, 99.6, 100))
    return first + n


def test_quiet_bars_inside_the_band_fill_nothing():
    v, sink = make()
    long_with_stop(v)
    quiet(v, 1, 20)
    assert len(sink.fills) == 1 and set(v.orders) == {"sl", "tp"}
    assert v._bands[ETH] == (99.0, 101.0)


def test_a_bar_that_gaps_through_the_stop_after_quiet_bars_fills_at_the_open():
    v, sink = make()
    long_with_stop(v)
    i = quiet(v, 1)
    v.on_market(bar(i, 98, 98.4, 97.5, 98.2))
    assert [(f.role, f.price) for f in sink.fills[1:]] == [(OrderRole.STOP, Decimal("98.00"))]


def test_a_stop_moved_between_bars_rebuilds_the_band():
    v, sink = make()
    long_with_stop(v, stop="98")
    i = quiet(v, 1)  # band (98, 101): a low of 99.3 would be skipped with it
    v.cancel(ETH, "sl")
    v.submit(order("sl2", "SELL", OrderType.STOP_MARKET, role=OrderRole.STOP,
                   ts=T0 + i * MIN - 1, stop="99.5", reduce_only=True))
    v.on_market(bar(i, 100, 100.2, 99.3, 99.4))
    assert [(f.client_id, f.price) for f in sink.fills[1:]] == [("sl2", Decimal("99.50"))]


class _ProtectOnFill(RecordingSink):
    """Places the stop the moment the entry fills, mid-bar, as the order owner does."""

    venue: PaperVenue

    def on_fill(self, fill: Fill) -> None:
        super().on_fill(fill)
        if fill.role is OrderRole.ENTRY:
            self.venue.submit(order("sl", "SELL", OrderType.STOP_MARKET, role=OrderRole.STOP,
                                    ts=fill.ts, stop="99", reduce_only=True))


def test_a_stop_placed_mid_bar_by_the_entry_fill_is_live_for_the_rest_of_that_bar():
    v = PaperVenue(Decimal(10_000), slippage_bps=0.0, latency_ms=0, fill_at="next-open",
                   assumed_funding_bps_8h=0.0)
    sink = _ProtectOnFill()
    sink.venue = v
    v.bind(sink)
    quiet(v, 0)  # flat and nothing resting: the band is open on every side
    v.submit(order("e", "BUY", ts=T0 + 5 * MIN - 1))
    v.on_market(bar(5, 100, 100.2, 98.7, 99.2))  # fills at the open, then the low hits 99
    assert [(f.role, f.price) for f in sink.fills] == [
        (OrderRole.ENTRY, Decimal("100.00")), (OrderRole.STOP, Decimal("99.00"))]


def test_a_stop_placed_mid_bar_is_in_the_band_of_the_next_bar():
    v = PaperVenue(Decimal(10_000), slippage_bps=0.0, latency_ms=0, fill_at="next-open",
                   assumed_funding_bps_8h=0.0)
    sink = _ProtectOnFill()
    sink.venue = v
    v.bind(sink)
    quiet(v, 0)
    v.submit(order("e", "BUY", ts=T0 + 5 * MIN - 1))
    v.on_market(bar(5, 100, 100.2, 99.6, 100))  # entry fills, the stop rests at 99
    assert set(v.orders) == {"sl"}
    v.on_market(bar(6, 99.8, 99.9, 98.9, 99.1))
    assert [(f.role, f.price) for f in sink.fills] == [
        (OrderRole.ENTRY, Decimal("100.00")), (OrderRole.STOP, Decimal("99.00"))]


def test_a_new_position_brings_its_liquidation_price_into_the_band():
    v, sink = make()
    quiet(v, 0)  # flat: the band is open on every side
    v.set_leverage(ETH, 20)
    v.submit(order("e", "BUY", ts=T0 + 5 * MIN - 1))
    lp = float(v.book.positions[ETH].liquidation_price)
    assert 95 < lp < 96
    v.on_market(bar(5, 100, 100.2, 99.8, 100))
    assert v._bands[ETH] == (lp, float("inf"))
    v.on_market(bar(6, 99, 99, lp - 0.1, 96))
    assert [f.role for f in sink.fills] == [OrderRole.ENTRY, OrderRole.LIQUIDATION]


def test_unlimited_margin_backtest_leaves_liquidation_out_of_the_band():
    v, sink = make(BacktestVenue, margin_check=False)
    v.set_leverage(ETH, 20)
    v.on_market(bar(0, 100, 100, 100, 100))
    v.submit(order("e", "BUY", ts=T0 + MIN - 1))
    v.on_market(bar(1, 100, 100.2, 99.8, 100))
    assert v._bands[ETH] == (-float("inf"), float("inf"))
    v.on_market(bar(2, 99, 99, 90, 91))
    assert [f.role for f in sink.fills] == [OrderRole.ENTRY]


def test_a_limit_order_placed_after_quiet_quotes_fills_on_the_next_quote():
    v, sink = make(fill_at="auto")
    for k in range(5):
        v.on_market(Quote(ETH, T0 + k, 99.99, 5.0, 100.01, 5.0))
    v.submit(order("buy", "BUY", OrderType.LIMIT, price="99.90", ts=T0 + 5))
    assert sink.status_of("buy") == [OrderStatus.NEW]
    v.on_market(Quote(ETH, T0 + 6, 99.88, 5.0, 99.90, 5.0))
    assert [(f.client_id, f.price, f.liquidity.value) for f in sink.fills] == [
        ("buy", Decimal("99.90"), "maker")]


class _NoBand(PaperVenue):
    """The reference: every event takes the full check, as before the band existed."""

    def _band(self, sym: str) -> tuple[float, float]:
        return (float("inf"), -float("inf"))


def _story(cls: type[PaperVenue], seed: int) -> list[tuple[object, ...]]:
    rnd = random.Random(seed)
    v, sink = make(cls)
    v.set_leverage(ETH, rnd.choice([1, 10, 50, 100]))
    px, n = 100.0, 0
    for i in range(600):
        o = px
        c = o * (1 + rnd.gauss(0, 0.004))
        hi = max(o, c) * (1 + abs(rnd.gauss(0, 0.002)))
        lo = min(o, c) * (1 - abs(rnd.gauss(0, 0.002)))
        v.on_market(bar(i, o, hi, lo, c))
        px = c
        ts = T0 + (i + 1) * MIN - 1
        pos = v.book.positions.get(ETH)
        if pos is None and not v.orders and rnd.random() < 0.3:
            n += 1
            v.submit(order(f"e{n}", rnd.choice(["BUY", "SELL"]), ts=ts))
        elif pos is not None and rnd.random() < 0.5:
            exit_side = "SELL" if pos.side.order_side == "BUY" else "BUY"
            sign = 1 if exit_side == "SELL" else -1
            for cid in list(v.orders):
                v.cancel(ETH, cid)
            n += 1
            v.submit(order(f"s{n}", exit_side, OrderType.STOP_MARKET, str(pos.qty),
                           role=OrderRole.STOP, ts=ts, reduce_only=True,
                           stop=f"{c * (1 - sign * rnd.uniform(0.001, 0.01)):.2f}"))
            v.submit(order(f"t{n}", exit_side, OrderType.TAKE_PROFIT_MARKET, str(pos.qty),
                           role=OrderRole.TAKE_PROFIT, ts=ts, reduce_only=True,
                           stop=f"{c * (1 + sign * rnd.uniform(0.001, 0.01)):.2f}"))
            if rnd.random() < 0.3:
                v.submit(order(f"l{n}", exit_side, OrderType.LIMIT, str(pos.qty),
                               role=OrderRole.EXIT, ts=ts, reduce_only=True,
                               price=f"{c * (1 + sign * 0.002):.2f}"))
    return [(f.client_id, f.role, f.price, f.qty, f.fee, f.ts) for f in sink.fills] + [
        (v.balance, v.fees_paid)]


def test_the_band_never_changes_what_fills_on_random_markets():
    for seed in range(12):
        assert _story(PaperVenue, seed) == _story(_NoBand, seed), seed
