"""--param for optimize: ranges, steps and choices, checked against the strategy's types."""

from __future__ import annotations

import pytest
from tapedesk.engine.research.search_space import SearchSpaceError, parse_space


def test_int_float_step_choice_and_fixed_values():
    dims, fixed = parse_space("liquidity_sweep", [
        "swing_left=5..20", "target_r=1.5..3.0:0.25", "timeframe=1m,5m,15m",
        "liquidity_sweep.with_trend_only=0,1", "cooldown_bars=20"])
    by = {d.name: d for d in dims}
    assert (by["swing_left"].kind, by["swing_left"].low, by["swing_left"].high) == ("int", 5, 20)
    assert (by["target_r"].kind, by["target_r"].step) == ("float", 0.25)
    assert by["timeframe"].choices == ("1m", "5m", "15m")
    assert by["with_trend_only"].choices == (0, 1)
    assert fixed == {"cooldown_bars": 20}
    dims, _ = parse_space("ema_cross", ["reverse=true,false", "fast=5..9"])
    assert dims[0].choices == (True, False)


@pytest.mark.parametrize(("item", "words"), [
    ("swing_lft=5..20", "liquidity_sweep has no parameter 'swing_lft'; known: timeframe (str)"),
    ("swing_left=1.5..20", "swing_left is an int; '1.5' is not one"),
    ("swing_left=20..5", "swing_left: the low bound must be below the high"),
    ("target_r=1..2:0", "target_r: the step must be above 0"),
    ("target_r=1..2:5", "the step is wider than the range"),
    ("timeframe=1m..5m", "timeframe is a str: list the choices"),
    ("target_r=1,x", "target_r is a float; 'x' is not one"),
    ("target_r=nan..3", "target_r is a float; 'nan' is not one"),
    ("target_r", "use name=a..b, name=a,b,c or name=value"),
])
def test_a_bad_param_is_one_line_naming_it(item, words):
    with pytest.raises(SearchSpaceError) as err:
        parse_space("liquidity_sweep", [item])
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_nothing_to_search_and_twice_are_refused():
    with pytest.raises(SearchSpaceError, match="nothing to search"):
        parse_space("ema_cross", ["fast=5"])
    with pytest.raises(SearchSpaceError, match="fast is given twice"):
        parse_space("ema_cross", ["fast=5..9", "fast=3,4"])
    with pytest.raises(SearchSpaceError, match="unknown strategy"):
        parse_space("nope", ["fast=5..9"])
