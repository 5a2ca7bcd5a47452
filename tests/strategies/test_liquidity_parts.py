"""The liquidity-sweep method, part by part: regime, pools, sweep verdict, stop, target."""

from __future__ import annotations

import pytest
from tapedesk.engine.events import Side
from tapedesk.engine.strategies.liquidity.pools import LiquidityMap, Pool
from tapedesk.engine.strategies.liquidity.regime import RANGE, TREND_DOWN, TREND_UP, WARMING, Regime
from tapedesk.engine.strategies.liquidity.sweep import judge_sweep, pick_target, stop_for

from tests.strategies.bars import utc_ms

HOUR = 3_600_000


def find_sweep(*args, **kw):
    """``judge_sweep`` with its why-not worded: (sweep, "") or (None, why not)."""
    sweep, word, words = judge_sweep(*args, **kw)
    return sweep, word(*words) if word is not None else ""


def place_stop(*args):
    """``stop_for`` with its sentence worded: (stop, sentence)."""
    stop, word, words = stop_for(*args)
    return stop, word(*words)


# -- regime -------------------------------------------------------------------------------
def test_regime_warms_up_before_judging():
    r = Regime(lookback=20)
    assert all(r.update(101, 99, 100) == WARMING for _ in range(20))


def test_steady_climb_is_an_uptrend_and_a_slide_a_downtrend():
    up, down = Regime(lookback=20), Regime(lookback=20)
    for i in range(40):
        s_up = up.update(100 + i + 0.5, 100 + i - 0.5, 100 + i)
        s_down = down.update(200 - i + 0.5, 200 - i - 0.5, 200 - i)
    assert (s_up, s_down) == (TREND_UP, TREND_DOWN)
    assert up.er == pytest.approx(1.0)


def test_back_and_forth_is_a_range():
    r = Regime(lookback=20)
    for i in range(60):
        state = r.update(101, 99, 100 + (1 if i % 2 else -1))
    assert state == RANGE
    assert "range regime" in r.describe()


# -- pools --------------------------------------------------------------------------------
def _feed(m: LiquidityMap, ts: int, high: float, low: float) -> None:
    m.update(ts, high, low, ts + 59_999)


def test_prior_day_high_and_low_are_published_when_the_utc_day_rolls():
    m = LiquidityMap(use_swings=False, sessions=())
    d1 = utc_ms("2024-01-01 10:00")
    _feed(m, d1, 110, 90)
    _feed(m, d1 + HOUR, 105, 95)
    assert m.highs == [] and m.lows == []  # the day is not over: no prior-day levels yet
    _feed(m, utc_ms("2024-01-02 00:00"), 100, 99)
    assert [(p.label, p.price) for p in m.highs] == [("prior-day high", 110)]
    assert [(p.label, p.price) for p in m.lows] == [("prior-day low", 90)]
    assert (m.nearest_high, m.nearest_low) == (110, 90)


def test_session_ranges_become_pools_when_the_session_ends():
    m = LiquidityMap(use_swings=False)
    t = utc_ms("2024-01-02 01:00")
    _feed(m, t, 105, 95)  # Asia
    _feed(m, t + 5 * HOUR, 104, 96)  # 06:00, still Asia
    _feed(m, utc_ms("2024-01-02 08:00"), 101, 99)  # Asia is over (London running)
    labels = {(p.label, p.price) for p in m.highs + m.lows}
    assert labels == {("Asia high", 105), ("Asia low", 95)}


def test_a_level_already_traded_through_is_not_a_pool():
    m = LiquidityMap(use_swings=False)
    _feed(m, utc_ms("2024-01-02 03:00"), 105, 95)
    _feed(m, utc_ms("2024-01-02 08:00"), 106, 99)  # Asia ends on a bar above its high
    assert [p.label for p in m.highs] == []
    assert [p.label for p in m.lows] == ["Asia low"]


def test_swing_points_and_equal_highs():
    m = LiquidityMap(swing_left=2, swing_right=2, eq_tolerance=0.001, sessions=())
    t = utc_ms("2024-01-02 10:00")
    highs = [100, 101, 120.05, 101, 100, 101, 119.99, 101, 100]
    for i, h in enumerate(highs):
        _feed(m, t + i * 60_000, h, h - 1)
    assert [(p.label, p.price) for p in m.highs] == [("equal highs", 120.05)]


def test_take_consumes_every_pool_the_bar_traded_through():
    m = LiquidityMap(use_swings=False, sessions=())
    m.add(Pool("a", "low", 95, 0), 100, 99)
    m.add(Pool("b", "low", 90, 0), 100, 99)
    taken = m.take_lows(94)
    assert [p.label for p in taken] == ["a"]
    assert m.nearest_low == 90


# -- sweep verdict ------------------------------------------------------------------------
def _low_pool(price=41_230.5):
    return Pool("prior-day low", "low", price, 0)


def test_wick_below_a_low_that_closes_back_above_is_a_long_sweep():
    sweep, why = find_sweep(41_300, 41_197.5, 41_250, [], [_low_pool()], max_depth=0.005)
    assert why == ""
    assert sweep.side is Side.LONG
    assert sweep.describe() == "Swept prior-day low 41,230.5 by 0.08 %, closed back above"


def test_close_beyond_the_pool_is_a_break_not_a_sweep():
    sweep, why = find_sweep(41_300, 41_197.5, 41_220, [], [_low_pool()], max_depth=0.005)
    assert sweep is None
    assert why == "Closed 41,220.0 below prior-day low 41,230.5: a break, not a sweep"


def test_wick_above_a_high_that_closes_back_below_is_a_short_sweep():
    pool = Pool("Asia high", "high", 100.0, 0)
    sweep, _ = find_sweep(100.2, 99.0, 99.9, [pool], [], max_depth=0.005)
    assert sweep.side is Side.SHORT
    assert sweep.describe().startswith("Swept Asia high 100.00 by 0.20 %, closed back below")


def test_too_deep_a_wick_is_a_move_not_a_stop_run():
    sweep, why = find_sweep(41_300, 40_900, 41_250, [], [_low_pool()], max_depth=0.005)
    assert sweep is None and "deep" in why and "not a stop run" in why


def test_a_bar_through_both_sides_is_not_faded():
    hi = Pool("swing high", "high", 101, 0)
    lo = Pool("swing low", "low", 99, 0)
    sweep, why = find_sweep(102, 98, 100, [hi], [lo], max_depth=0.05)
    assert sweep is None and "both sides" in why


def test_the_most_watched_pool_names_the_sweep():
    pools = [Pool("swing low", "low", 100.5, 0), Pool("prior-day low", "low", 100.0, 0)]
    sweep, _ = find_sweep(101, 99.9, 100.8, [], pools, max_depth=0.01)
    assert sweep.describe().startswith("Swept prior-day low 100.00")
    assert "also took swing low 100.50" in sweep.describe()


# -- stop -----------------------------------------------------------------------------------
def test_stop_at_wick_midpoint_when_it_is_inside_the_band():
    # entry 40,000, body bottom 39,990, wick to 39,850: midpoint 39,920 = 0.20 %
    stop, text = place_stop(Side.LONG, 40_000, 39_850, 39_990, 0.0015, 0.0035, 0.0002)
    assert stop == 39_920
    assert text == "stop at wick midpoint 39,920.0 (0.20 %)"


def test_stop_outside_the_band_means_no_trade_and_says_why():
    stop, text = place_stop(Side.LONG, 40_000, 39_700, 39_990, 0.0015, 0.0035, 0.0002)
    assert stop is None
    assert text == "wick midpoint 39,845.0 is 0.39 % away, beyond the 0.35 % cap: no trade"


def test_tight_wick_puts_the_stop_beyond_the_sweep_extreme():
    stop, text = place_stop(Side.SHORT, 40_000, 40_070, 40_010, 0.0015, 0.0035, 0.0002)
    assert stop == pytest.approx(40_070 * 1.0002)
    assert text.startswith("stop beyond the sweep high at 40,078.0 (0.20 %)")


def test_very_tight_structure_is_widened_to_the_band_floor():
    stop, text = place_stop(Side.LONG, 40_000, 39_990, 39_995, 0.0015, 0.0035, 0.0002)
    assert stop == pytest.approx(40_000 * (1 - 0.0015))
    assert "widened to the 0.15 % floor" in text


# -- target ---------------------------------------------------------------------------------
def test_target_is_the_nearest_opposite_pool_far_enough_in_r():
    pools = [Pool("swing high", "high", 100.1, 0), Pool("Asia high", "high", 100.5, 0)]
    tp, text = pick_target(Side.LONG, 100.0, 99.8, pools, r_multiple=2.0, min_r=1.5)
    assert tp == 100.5
    assert text == "target Asia high 100.50 (2.5R)"


def test_target_falls_back_to_an_r_multiple_without_a_pool():
    tp, text = pick_target(Side.SHORT, 100.0, 100.2, [], r_multiple=2.0, min_r=1.5)
    assert tp == pytest.approx(99.6)
    assert text.startswith("target 2R at 99.60")
