"""Indicators match TA-Lib (and pandas for the first-value-seeded EMA) on real BTC bars.

TA-Lib is a test-only dependency (``pip install ta-lib``); without it these tests skip
and say so. The comparison runs on the real month of 1m bars in ../shared/data.
"""

from __future__ import annotations

import math

import pytest
from tapedesk.engine.indicators import (
    ATR,
    EMA,
    RSI,
    SMA,
    Bollinger,
    RollingMax,
    RollingMin,
    RollingStd,
    Swings,
)


@pytest.fixture(scope="module")
def talib():
    return pytest.importorskip(
        "talib", reason="TA-Lib not installed: pip install ta-lib (test-only)"
    )


N = 20_000  # enough bars to cover every regime in the month, fast enough for CI


@pytest.fixture(scope="module")
def ohlc(bars_1m):
    np = pytest.importorskip("numpy")
    bars = bars_1m[:N]
    return (
        np.array([b.high for b in bars]),
        np.array([b.low for b in bars]),
        np.array([b.close for b in bars]),
    )


def _feed(ind, xs):
    return [ind.update(float(x)) for x in xs]


def _assert_close(ours, ref, rel=1e-9, abs_=1e-7, start=0):
    checked = 0
    for i in range(start, len(ref)):
        r = ref[i]
        if math.isnan(r):
            assert ours[i] is None, f"bar {i}: expected warm-up None, got {ours[i]}"
            continue
        assert ours[i] is not None, f"bar {i}: expected {r}, got None"
        assert ours[i] == pytest.approx(r, rel=rel, abs=abs_), f"bar {i}"
        checked += 1
    assert checked > len(ref) // 2


def test_sma_matches_talib(ohlc, talib):
    _, _, close = ohlc
    _assert_close(_feed(SMA(20), close), talib.SMA(close, 20))


def test_rolling_std_matches_talib_population_stddev(ohlc, talib):
    _, _, close = ohlc
    _assert_close(_feed(RollingStd(20), close), talib.STDDEV(close, 20, 1), rel=1e-6, abs_=1e-6)


def test_bollinger_bands_match_talib(ohlc, talib):
    _, _, close = ohlc
    up, mid, lo = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    bb = Bollinger(20, 2.0)
    uppers, mids, lowers = [], [], []
    for x in close:
        bb.update(float(x))
        uppers.append(bb.upper)
        mids.append(bb.middle)
        lowers.append(bb.lower)
    _assert_close(mids, mid)
    _assert_close(uppers, up, rel=1e-9, abs_=1e-5)
    _assert_close(lowers, lo, rel=1e-9, abs_=1e-5)


def test_wilder_rsi_matches_talib(ohlc, talib):
    _, _, close = ohlc
    _assert_close(_feed(RSI(14), close), talib.RSI(close, 14), rel=1e-7, abs_=1e-7)


def test_wilder_atr_matches_talib(ohlc, talib):
    high, low, close = ohlc
    atr = ATR(14)
    ours = [
        atr.update(float(h), float(lo), float(c)) for h, lo, c in zip(high, low, close, strict=True)
    ]
    _assert_close(ours, talib.ATR(high, low, close, 14), rel=1e-7, abs_=1e-7)


def test_rolling_max_min_match_talib(ohlc, talib):
    high, low, _ = ohlc
    _assert_close(_feed(RollingMax(30), high), talib.MAX(high, 30))
    _assert_close(_feed(RollingMin(30), low), talib.MIN(low, 30))


def test_ema_seeded_from_first_value_matches_pandas_ewm(ohlc):
    pd = pytest.importorskip("pandas", reason="pandas not installed (test-only)")
    _, _, close = ohlc
    ref = pd.Series(close).ewm(span=21, adjust=False).mean().to_numpy()
    _assert_close(_feed(EMA(21), close), ref, rel=1e-12, abs_=1e-9)


def test_ema_converges_to_talib_sma_seeded_ema(ohlc, talib):
    # TA-Lib seeds with the SMA of the first `period` values; the seed's weight decays as
    # (1 - alpha)^n, so after 40 periods both agree to far below a tick.
    _, _, close = ohlc
    ours = _feed(EMA(21), close)
    ref = talib.EMA(close, 21)
    for i in range(21 * 40, len(close)):
        assert ours[i] == pytest.approx(ref[i], rel=1e-12, abs=1e-6)


def test_swings_are_confirmed_only_after_right_bars():
    highs = [10, 11, 12, 15, 12, 11, 10, 9, 10]
    lows = [h - 1 for h in highs]
    sw = Swings(left=2, right=2)
    reported = [sw.update(h, lo) for h, lo in zip(highs, lows, strict=True)]
    # The swing high 15 (bar 3) can be known only when bar 5 has closed.
    assert [r[0] for r in reported] == [None, None, None, None, None, 15, None, None, None]
    assert sw.swing_high == (3, 15)


def test_swing_high_needs_strictly_lower_highs_on_the_right():
    sw = Swings(left=1, right=1)
    out = [sw.update(h, 0.0) for h in (1.0, 5.0, 5.0, 1.0)]
    # 5,5: the first 5 is not strictly above its right neighbour; the second one is.
    assert [o[0] for o in out] == [None, None, None, 5.0]
    assert sw.swing_high == (2, 5.0)


def test_swing_low_detected_symmetrically():
    sw = Swings(left=2, right=2)
    lows = [10, 9, 8, 5, 8, 9, 10]
    out = [sw.update(lo + 1, lo) for lo in lows]
    assert [o[1] for o in out] == [None, None, None, None, None, 5, None]


def test_indicators_refuse_nonsense_periods():
    for cls in (EMA, SMA, RSI, ATR, RollingMax, RollingMin):
        with pytest.raises(ValueError, match="period"):
            cls(0)
    with pytest.raises(ValueError, match="period"):
        RollingStd(1)


def test_swings_equal_a_brute_force_scan_of_the_real_month(bars_1m):
    bars = bars_1m[:10_000]
    left = right = 5
    sw = Swings(left, right)
    got_hi, got_lo = [], []
    for b in bars:
        h, lo = sw.update(b.high, b.low)
        if h is not None:
            got_hi.append(sw.swing_high)
        if lo is not None:
            got_lo.append(sw.swing_low)
    want_hi, want_lo = [], []
    for c in range(left, len(bars) - right):
        hs = [b.high for b in bars[c - left : c + right + 1]]
        ls = [b.low for b in bars[c - left : c + right + 1]]
        if hs[left] >= max(hs[:left]) and hs[left] > max(hs[left + 1 :]):
            want_hi.append((c, hs[left]))
        if ls[left] <= min(ls[:left]) and ls[left] < min(ls[left + 1 :]):
            want_lo.append((c, ls[left]))
    assert got_hi == want_hi and got_lo == want_lo
    assert len(want_hi) > 100


def test_regime_inlined_atr_equals_the_atr_indicator(bars_1m):
    from tapedesk.engine.strategies.liquidity.regime import Regime

    r = Regime(lookback=60, atr_period=14)
    atr = ATR(14)
    for b in bars_1m[:5000]:
        r.update(b.high, b.low, b.close)
        a = atr.update(b.high, b.low, b.close)
        assert r.atr == (pytest.approx(a, rel=1e-12) if a is not None else None)
