"""review-seven: ``SymbolSpec.round_price`` (with seven-trip's float shortcut) against the
Decimal path it replaced (ff78c2f's code, copied below as the oracle): the same digits AND
exponent (``str``), or the same exception, for every tick the desk ships or Binance lists,
every rounding mode, and prices on, next to, and a hair away from tick boundaries and
halves, huge and tiny, negative, zero, NaN/inf and floats that are not exactly
representable. Also the per-tick cache: ticks equal in value but not in exponent (0.1 and
0.10), specs made again and again (fresh tick objects), and many ticks in turn."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st
from tapedesk.engine.symbols import KNOWN_SYMBOLS, SymbolSpec, _plain, spec_for

MODES = {"nearest": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}

# The shipped specs' ticks, the unknown-symbol default, and tickSize texts as Binance lists
# them (through from_exchange_info's _plain, and raw, as a spec written by hand has them).
RAW_TICKS = ["0.10", "0.1", "0.01", "0.0100", "0.010", "0.001", "0.0001", "0.00001",
             "0.000001", "0.0000001", "0.00000001", "0.00010000", "0.01000000", "1", "1.0",
             "0.5", "0.05", "0.25", "10", "100", "0.000000000000001", "0.0000000000000010"]
TICKS = sorted({str(s.tick_size) for s in KNOWN_SYMBOLS.values()}
               | {str(spec_for("ZZZUSDT").tick_size)} | set(RAW_TICKS)
               | {str(_plain(t)) for t in RAW_TICKS})


def _unit(size: Decimal) -> Decimal | None:
    if size.is_finite() and size > 0:
        _sign, digits, exp = size.normalize().as_tuple()
        if digits == (1,):
            return Decimal((0, (1,), exp))
    return None


def oracle(price: Decimal | float, tick: Decimal, direction: str) -> Decimal:
    """ff78c2f's ``round_price`` (the Decimal path), verbatim but for the unit cache."""
    mode = MODES[direction]
    value = price if type(price) is Decimal else Decimal(str(price))
    unit = _unit(tick)
    if unit is not None:
        rounded = value.quantize(unit, mode)
        return rounded.quantize(tick)
    ticks = (value / tick).to_integral_value(rounding=mode)
    return (ticks * tick).quantize(tick)


def outcome(fn, *args) -> str:
    try:
        got = fn(*args)
    except ArithmeticError as exc:
        return type(exc).__name__
    assert type(got) is Decimal
    return f"{got} {got.as_tuple()}"


def spec(tick: str) -> SymbolSpec:
    return SymbolSpec("X", Decimal(tick), Decimal("0.001"), Decimal("0.001"), Decimal(5))


def check(price: float, tick: str, direction: str) -> None:
    s = spec(tick)
    assert outcome(s.round_price, price, direction) == outcome(
        oracle, price, s.tick_size, direction), (price, tick, direction)


def ulps(x: float, n: int) -> float:
    for _ in range(abs(n)):
        x = math.nextafter(x, math.inf if n > 0 else -math.inf)
    return x


def _scale(tick: str) -> float:
    unit = _unit(Decimal(tick))
    return 1.0 if unit is None else float(10 ** -unit.as_tuple().exponent)


# A tick boundary (k / scale), or a half between two (k + 0.5) / scale, moved by a few
# ulps, or by about the shortcut's own margin (1e-6 of a unit, a hair either side).
boundary = st.tuples(
    st.sampled_from(TICKS),
    st.integers(min_value=0, max_value=2**31),
    st.sampled_from([0.0, 0.5]),
    st.one_of(st.integers(-6, 6).map(lambda n: ("ulps", n)),
              st.sampled_from([1e-6, -1e-6, 1.0000001e-6, -1.0000001e-6, 0.9999999e-6,
                               -0.9999999e-6, 2e-7, -2e-7, 1e-9, -1e-9]).map(
                                   lambda d: ("frac", d))),
)


def near(t) -> tuple[float, str]:
    tick, k, half, (how, d) = t
    x = (k + half) / _scale(tick)
    x = ulps(x, d) if how == "ulps" else (k + half + d) / _scale(tick)
    return x, tick


@settings(max_examples=4000, deadline=None)
@given(boundary.map(near), st.sampled_from(list(MODES)))
def test_prices_at_and_next_to_tick_boundaries_and_halves(pt, direction):
    check(pt[0], pt[1], direction)


weird = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),  # anything, huge, subnormal, -0.0
    st.floats(min_value=1e-12, max_value=1e-2),  # tiny
    st.floats(min_value=1e8, max_value=1e16),  # huge: at and above the shortcut's limit
    st.floats(min_value=-1e6, max_value=0.0),  # negative and zero
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("10000000"), places=9,
                allow_nan=False, allow_infinity=False).map(lambda d: float(str(d))),
    st.tuples(st.integers(1, 10**8), st.sampled_from(
        [1.0001, 0.9999, 1.0005, 0.9995, 1.00025, 0.99975, 1.1, 0.9])).map(
            lambda p: p[0] / 100 * p[1]),  # a slipped fill on a 0.01 tick
)


@settings(max_examples=4000, deadline=None)
@given(weird, st.sampled_from(TICKS), st.sampled_from(list(MODES)))
@example(2.0**30 / 100, "0.01", "nearest")
@example(math.nextafter(2.0**30, 0) / 10, "0.1", "up")
@example(1e-320, "0.01", "up")
@example(-0.0, "0.10", "down")
@example(0.15, "0.1", "nearest")  # 0.1499999... as a float, "0.15" as its text
@example(1.005, "0.01", "nearest")
@example(2.675, "0.01", "nearest")
@example(0.1 + 0.2, "0.1", "nearest")
def test_any_float_huge_tiny_negative_inexact(x, tick, direction):
    check(x, tick, direction)


def test_ticks_equal_in_value_but_not_exponent_alternate():
    """0.1 / 0.10 / 0.100 are one dict key but three texts: the cache is by object."""
    ticks = ["0.1", "0.10", "0.100", "0.1", "0.01", "0.010", "0.0100", "0.01"]
    specs = [spec(t) for t in ticks]
    for price in (46321.73, 1.23456, 99.99, 0.07, 1234.5678):
        for _round in range(3):
            for s in specs:
                for direction in MODES:
                    assert outcome(s.round_price, price, direction) == outcome(
                        oracle, price, s.tick_size, direction)


def test_specs_made_again_and_again_with_fresh_tick_objects():
    """Unknown symbols get a new spec (a new tick Decimal) each time; past the cache's bound
    it is emptied and ids may be reused by a tick of another exponent."""
    values = ["0.1", "0.01", "0.10", "0.001", "0.0100", "1", "0.5"]
    for i in range(2000):
        s = spec(values[i % len(values)])
        price = 100.0 + i * 0.0137
        for direction in MODES:
            assert outcome(s.round_price, price, direction) == outcome(
                oracle, price, s.tick_size, direction), (i, s.tick_size)
        del s


def test_a_decimal_and_an_int_price_still_take_the_decimal_path():
    s = spec("0.10")
    for price in (Decimal("46321.75"), Decimal("1E+2"), 46321, True):
        for direction in MODES:
            assert outcome(s.round_price, price, direction) == outcome(
                oracle, price, s.tick_size, direction)
