"""``positions.set_isolated_margin`` reuses the last computation when it is handed the very
same objects (the venue's book and the desk's apply one fill). Attack: interleave calls that
share some objects and not others, equal Decimals of other exponents, other specs with other
brackets, and leverage: every result equals a computation from scratch."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine.events import Position, Side
from tapedesk.engine.positions import liquidation_price, set_isolated_margin
from tapedesk.engine.symbols import spec_for, tiers

BASE = spec_for("BTCUSDT")
SPECS = [BASE, replace(BASE, margin_tiers=tiers(("0", "0.004"), ("1000", "0.05"))),
         replace(BASE, margin_tiers=tiers(("0", "0.1")))]
QTYS = [Decimal("1"), Decimal("1.0"), Decimal("1.000"), Decimal("0.5"), Decimal("3")]
PRICES = [Decimal("100"), Decimal("100.00"), Decimal("2000.5"), Decimal("99.9")]


def _scratch(side: Side, qty: Decimal, entry: Decimal, lev: int, spec) -> tuple:
    notional = qty * entry
    margin = notional / lev
    mmr, cum = spec.maintenance(notional)
    return margin, liquidation_price(side, qty, entry, margin, mmr, cum)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([Side.LONG, Side.SHORT]),
                          st.integers(0, len(QTYS) - 1), st.integers(0, len(PRICES) - 1),
                          st.sampled_from([1, 5, 20, 125]), st.integers(0, len(SPECS) - 1)),
                min_size=1, max_size=30))
def test_the_memo_never_answers_for_other_inputs(calls):
    for side, q, p, lev, s in calls:
        pos = Position("BTCUSDT", side, QTYS[q], PRICES[p], lev, 0)
        set_isolated_margin(pos, SPECS[s])
        want = _scratch(side, QTYS[q], PRICES[p], lev, SPECS[s])
        assert (pos.margin, pos.liquidation_price) == want
        assert (str(pos.margin), str(pos.liquidation_price)) == tuple(map(str, want))
