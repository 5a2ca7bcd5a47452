"""Tick and lot rounding (engine/symbols.py): the quantize shortcut for power-of-ten sizes
must give exactly what the division formula gives — value and exponent (the text the
exchange receives) — for every size spelling, sign, magnitude and input type."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine.symbols import spec_for

MODES = {"nearest": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}
SIZES = ["0.1", "0.10", "0.0100", "1", "1.0", "10", "100", "0.00000001", "1E-8", "1E+1",
         "0.5", "0.025", "5", "0.25", "2.5"]


def _old_price(value, tick: Decimal, direction: str) -> Decimal:
    ticks = (Decimal(str(value)) / tick).to_integral_value(rounding=MODES[direction])
    return (ticks * tick).quantize(tick)


def _old_qty(value, step: Decimal) -> Decimal:
    steps = (Decimal(str(value)) / step).to_integral_value(rounding=ROUND_DOWN)
    return (steps * step).quantize(step)


values = st.one_of(
    st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False,
                allow_infinity=False, places=10),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    st.sampled_from([Decimal(0), Decimal("-0"), Decimal("0.05"), Decimal("0.15"),
                     Decimal("-0.05"), Decimal("1E+3"), Decimal("99999.95"), 0.1 + 0.2]),
)


@settings(max_examples=600, deadline=None)
@given(value=values, size=st.sampled_from(SIZES),
       direction=st.sampled_from(sorted(MODES)))
def test_rounding_matches_the_division_formula_exactly(value, size, direction):
    size_d = Decimal(size)
    spec = replace(spec_for("BTCUSDT"), tick_size=size_d, step_size=size_d,
                   market_step_size=size_d)
    want = _old_price(value, size_d, direction)
    got = spec.round_price(value, direction)
    assert (got, str(got)) == (want, str(want))
    want_q, got_q = _old_qty(value, size_d), spec.round_qty(value)
    assert (got_q, str(got_q)) == (want_q, str(want_q))
