"""Rounding to the tick by one quantize (power-of-ten ticks) is Binance's divide-round-multiply
rule exactly: same value and same exponent, for every direction, tick spelling and input."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st
from tapedesk.engine.symbols import SymbolSpec

MODES = {"nearest": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}
SIZES = ["0.10", "0.1", "0.01", "0.0100", "0.001", "1", "10", "100", "1E+1", "0.00001000",
         "0.5", "0.25", "0.0005", "5"]

prices = st.one_of(
    st.floats(min_value=-1e7, max_value=1e7, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-10_000_000, max_value=10_000_000, places=9, allow_nan=False,
                allow_infinity=False),
    st.integers(min_value=0, max_value=10_000_000).map(lambda n: n / 10),
)


def spec(tick: str, step: str) -> SymbolSpec:
    return SymbolSpec("X", Decimal(tick), Decimal(step), Decimal(step), Decimal(5),
                      market_step_size=Decimal("0.010"))


def by_definition(x: Decimal | float, size: Decimal, mode: str) -> Decimal:
    steps = (Decimal(str(x)) / size).to_integral_value(rounding=mode)
    return (steps * size).quantize(size)


@given(prices, st.sampled_from(SIZES), st.sampled_from(SIZES), st.sampled_from(list(MODES)))
def test_round_price_and_qty_are_the_divide_round_multiply_rule(x, tick, step, direction):
    s = spec(tick, step)
    assert str(s.round_price(x, direction)) == str(
        by_definition(x, s.tick_size, MODES[direction]))
    assert str(s.round_qty(x)) == str(by_definition(x, s.step_size, ROUND_DOWN))
    assert str(s.round_qty(x, market=True)) == str(
        by_definition(x, Decimal("0.010"), ROUND_DOWN))
