"""Funding at each symbol's own funding times (8 h, 4 h, 1 h), as its mark events announce
them; the 8-hour grid only for symbols without mark events."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from tapedesk.engine.events import MarkPrice
from tapedesk.engine.paper_venue import PaperVenue

from tests.engine_units._helpers import HOUR, MIN, T0, RecordingSink, bar, order
from tests.engine_units.test_paper_venue import ETH, make, open_long

BTC = "BTCUSDT"
RATE = 0.0003  # 0.03 USDT per funding for 1 ETH long at 100 (the assumed rate is 1 bp)


def stream(v: PaperVenue, times: list[int], until: int, *, sym: str = ETH,
           rate: float = RATE, every: int = 10 * MIN, start: int = T0 + MIN) -> None:
    """Mark events every ``every`` ms as the live stream sends them: each announces the
    first of ``times`` after it (Binance's ``T``)."""
    ts = start
    while ts <= until:
        nxt = next(t for t in times if t > ts)
        v.on_market(MarkPrice(sym, ts, 100.0, rate, nxt))
        ts += every


def times_of(sink: RecordingSink, sym: str = ETH) -> list[int]:
    return [f[3] - T0 for f in sink.funding if f[0] == sym]


@pytest.mark.parametrize("hours", [8, 4, 1])
def test_a_symbol_is_charged_at_every_time_its_mark_events_announce(hours: int) -> None:
    v, sink = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    open_long(v)
    times = [T0 + k * hours * HOUR for k in range(1, 30)]
    stream(v, times, T0 + 24 * HOUR + 5 * MIN)
    assert times_of(sink) == [k * hours * HOUR for k in range(1, 24 // hours + 1)]
    assert {(f[1], f[2]) for f in sink.funding} == {(Decimal("-0.03"), RATE)}  # never the grid
    assert v.funding_paid == Decimal("0.03") * (24 // hours)


def test_an_interval_change_is_followed_both_ways() -> None:
    v, sink = make(taker_fee_bps=0.0)
    open_long(v)
    # 8 h, then 4 h from 16:00, then back to 8 h after 24:00 (no 28:00 funding).
    times = [T0 + h * HOUR for h in (8, 16, 20, 24, 32, 40, 48)]
    stream(v, times, T0 + 40 * HOUR + 5 * MIN)
    assert times_of(sink) == [h * HOUR for h in (8, 16, 20, 24, 32, 40)]


def test_a_gap_charges_every_time_the_inferred_interval_crosses_at_the_last_rate() -> None:
    v, sink = make(taker_fee_bps=0.0)
    open_long(v)
    times = [T0 + k * 4 * HOUR for k in range(1, 10)]
    stream(v, times, T0 + 4 * HOUR + 30 * MIN)  # 04:00 settled, 08:00 announced: a 4 h symbol
    v.on_market(MarkPrice(ETH, T0 + 5 * HOUR, 102.0, 0.0001, T0 + 8 * HOUR))  # last before gap
    v.on_market(bar(17 * 60 + 30, 100, 100, 100, 100))  # desk back at 17:30
    assert times_of(sink) == [4 * HOUR, 8 * HOUR, 12 * HOUR, 16 * HOUR]
    assert [f[1] for f in sink.funding[1:]] == [Decimal("-0.0102")] * 3  # last rate and mark
    stream(v, times, T0 + 20 * HOUR + 5 * MIN, start=T0 + 17 * HOUR + 31 * MIN)
    assert times_of(sink)[-1] == 20 * HOUR and len(sink.funding) == 5


def test_two_symbols_with_different_intervals_each_follow_their_own() -> None:
    v, sink = make(taker_fee_bps=0.0)
    open_long(v)
    v.on_market(bar(0, 20_000, 20_000, 20_000, 20_000, symbol=BTC))
    v.submit(order("b1", "SELL", qty="0.01", ts=T0 + MIN - 1, symbol=BTC))
    eth = [T0 + k * 4 * HOUR for k in range(1, 5)]
    btc = [T0 + k * HOUR for k in range(1, 14)]
    ts = T0 + MIN
    while ts <= T0 + 12 * HOUR + 5 * MIN:
        v.on_market(MarkPrice(ETH, ts, 100.0, RATE, next(t for t in eth if t > ts)))
        v.on_market(MarkPrice(BTC, ts, 20_000.0, 0.0001, next(t for t in btc if t > ts)))
        ts += 10 * MIN
    assert times_of(sink) == [4 * HOUR, 8 * HOUR, 12 * HOUR]
    assert times_of(sink, BTC) == [k * HOUR for k in range(1, 13)]
    assert {f[1] for f in sink.funding if f[0] == BTC} == {Decimal("0.02")}  # the short receives


def test_a_time_both_the_grid_and_the_marks_reach_is_charged_once() -> None:
    v, sink = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    open_long(v)  # ETH: mark events (8 h)
    v.on_market(bar(0, 20_000, 20_000, 20_000, 20_000, symbol=BTC))
    v.submit(order("b1", "BUY", qty="0.01", ts=T0 + MIN - 1, symbol=BTC))  # BTC: no marks
    stream(v, [T0 + 8 * HOUR, T0 + 16 * HOUR], T0 + 8 * HOUR + 5 * MIN)
    assert sink.funding == [(ETH, Decimal("-0.03"), RATE, T0 + 8 * HOUR),
                            (BTC, Decimal("-0.02"), 0.0001, T0 + 8 * HOUR)]
    # A late mark event (merged streams slightly out of order) announcing the time the grid
    # already charged BTC for: not charged again.
    v.on_market(MarkPrice(BTC, T0 + 8 * HOUR - 500, 20_000.0, 0.0002, T0 + 8 * HOUR))
    v.on_market(bar(8 * 60 + 10, 20_000, 20_000, 20_000, 20_000, symbol=BTC))
    assert len(sink.funding) == 2


def test_a_restart_mid_interval_resumes_the_symbols_own_times_and_rate() -> None:
    v, sink = make(taker_fee_bps=0.0)
    open_long(v)
    hourly = [T0 + k * HOUR for k in range(1, 10)]
    stream(v, hourly, T0 + 2 * HOUR + 30 * MIN)  # 1 h symbol: 01:00, 02:00 settled
    assert times_of(sink) == [HOUR, 2 * HOUR]
    state = json.loads(json.dumps(v.to_state()))
    v2, sink2 = make(taker_fee_bps=0.0)
    v2.load_state(state)
    v2.on_market(bar(3 * 60, 100, 100, 100, 100))  # back at 03:00, no mark event yet
    assert sink2.funding == [(ETH, Decimal("-0.03"), RATE, T0 + 3 * HOUR)]  # not the grid
    stream(v2, hourly, T0 + 5 * HOUR + 5 * MIN, start=T0 + 3 * HOUR + MIN)
    assert times_of(sink2) == [3 * HOUR, 4 * HOUR, 5 * HOUR]


def test_a_checkpoint_without_funding_times_still_loads() -> None:
    v, _ = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    open_long(v)
    state = json.loads(json.dumps(v.to_state()))
    del state["funding_times"]  # as written before per-symbol funding times
    v2, sink2 = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    v2.load_state(state)
    v2.on_market(bar(8 * 60, 100, 100, 100, 100))
    assert sink2.funding == [(ETH, Decimal("-0.01"), 0.0001, T0 + 8 * HOUR)]  # the grid
