"""Long gaps in the data cost nothing per missing 8-hour mark (issue 9, item 4)."""

from __future__ import annotations

from decimal import Decimal

from tests.engine_units._helpers import HOUR, T0, bar
from tests.engine_units.test_paper_venue import ETH, make, open_long

YEAR = 365 * 24 * HOUR


def test_a_76_year_gap_is_one_payment_for_every_mark_crossed():
    v, sink = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    open_long(v)  # 1 ETH long at 100: 0.01 USDT per mark at 1 bp
    gap_min = 76 * YEAR // 60_000
    v.on_market(bar(gap_min, 100, 100, 100, 100))
    marks = (T0 + gap_min * 60_000 + 59_999 - (T0 + 8 * HOUR)) // (8 * HOUR) + 1
    assert marks > 83_000
    assert len(sink.funding) == 1  # one journal row, not 83,000
    symbol, amount, rate, ts = sink.funding[0]
    assert (symbol, rate) == (ETH, 0.0001)
    assert amount == Decimal("-0.01") * marks  # exactly what mark-by-mark settlement pays
    assert ts == T0 + 8 * HOUR + (marks - 1) * 8 * HOUR  # dated at the last mark crossed
    assert v.book.get(ETH).funding == amount


def test_a_gap_of_a_day_or_less_still_settles_mark_by_mark():
    v, sink = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    open_long(v)
    v.on_market(bar(33 * 60, 100, 100, 100, 100))  # 4 marks: aggregated
    assert len(sink.funding) == 1 and sink.funding[0][1] == Decimal("-0.04")
    v2, sink2 = make(assumed_funding_bps_8h=1.0, taker_fee_bps=0.0)
    open_long(v2)
    v2.on_market(bar(17 * 60, 100, 100, 100, 100))  # 2 marks: two rows
    assert [f[1] for f in sink2.funding] == [Decimal("-0.01"), Decimal("-0.01")]
