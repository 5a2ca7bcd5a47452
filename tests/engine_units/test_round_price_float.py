"""``SymbolSpec.round_price`` of a float takes a float path away from tick boundaries: it must
give the Decimal path's value and exponent for every price, above all those at or next to a
boundary (on-tick prices, halves, a slippage factor applied to them), where it must hand over."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine.symbols import KNOWN_SYMBOLS, SymbolSpec

MODES = {"nearest": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}
TICKS = ["0.10", "0.1", "0.01", "0.0100", "0.010", "0.001", "1", "0.00001000", "0.5", "10"]


def by_definition(x: float, tick: Decimal, mode: str) -> Decimal:
    steps = (Decimal(str(x)) / tick).to_integral_value(rounding=mode)
    return (steps * tick).quantize(tick)


on_tick = st.integers(min_value=1, max_value=10**9).map(lambda n: n / 100)
nudged = st.tuples(on_tick, st.sampled_from([0.0, 5e-3, 5e-4, 5e-5, 1e-7, -1e-7, 1e-9, -1e-9,
                                             0.05, -0.05])).map(sum)
slipped = st.tuples(on_tick, st.sampled_from([1.0001, 0.9999, 0.9975, 1.0025, 1.005, 0.995,
                                              1.0])).map(lambda p: p[0] * p[1])
prices = st.one_of(on_tick, nudged, slipped,
                   st.floats(min_value=-10.0, max_value=3e9, allow_nan=False),
                   st.sampled_from([0.0, -0.0, 2.0**30 / 10, 1e-300, float("inf")]))


@settings(max_examples=3000)
@given(prices, st.sampled_from(TICKS), st.sampled_from(list(MODES)))
def test_a_float_rounds_as_its_decimal_text_does(x, tick, direction):
    spec = SymbolSpec("X", Decimal(tick), Decimal("0.001"), Decimal("0.001"), Decimal(5))
    try:
        want = str(by_definition(x, spec.tick_size, MODES[direction]))
    except ArithmeticError as exc:  # inf: the Decimal path's own error, not a price
        want = type(exc).__name__
    try:
        got = str(spec.round_price(x, direction))
    except ArithmeticError as exc:
        got = type(exc).__name__
    assert got == want


def test_the_shipped_ticks_round_a_slipped_fill_price_exactly():
    for spec in KNOWN_SYMBOLS.values():
        for px in (46321.7, 3999.99, 150.25, 612.3):
            for direction, mode in MODES.items():
                x = px * 1.0001
                assert str(spec.round_price(x, direction)) == str(
                    by_definition(x, spec.tick_size, mode))
