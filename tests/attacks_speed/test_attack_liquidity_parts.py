"""liquidity_sweep's faster parts against what they must compute, derived independently:

- ``Swings.step`` (bit mask, NaN placeholder) against the definition of a swing point, with
  ties everywhere, mid-run pickling (a checkpoint) included;
- ``Regime.feed`` on every bar + ``classify`` on a few against ``update`` on every bar (the
  state, ER and volatility ratio read on a bar that touches a pool are the same);
- ``LiquidityMap``: the kept nearest pool is the min/max of the live pools after any
  sequence of adds and takes, the nearest-pool shortcut of ``_publish_swing`` relabels exactly
  the pool a full ``abs(d) <= tol`` scan relabels (prices at and one ulp around the tolerance
  edge), and the hour kept without a division is ``open_ts // HOUR_MS``;
- several symbols interleaved give each symbol the signals and notes it gets alone.
"""

from __future__ import annotations

import copy
import math
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine.events import Bar
from tapedesk.engine.indicators import Swings
from tapedesk.engine.strategies.liquidity.pools import HOUR_MS, LiquidityMap, Pool
from tapedesk.engine.strategies.liquidity.regime import Regime
from tapedesk.engine.strategies.liquidity_sweep import LiquiditySweep

FAST = settings(max_examples=150, deadline=None)
tied = st.sampled_from([1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, -1.0, 0.0])


def _swing_points(values: list[float], left: int, right: int, high: bool) -> list[int]:
    """Bars (index of the bar that confirms) where the centre ``c = i - right`` is a swing:
    at least every value of the ``left`` bars before it and beyond every one of the ``right``
    bars after it (a later equal value is the newer extreme)."""
    out = []
    for i in range(len(values)):
        c = i - right
        if c < left:
            continue
        v = values[c]
        before, after = values[c - left:c], values[c + 1:i + 1]
        if high and all(v >= x for x in before) and all(v > x for x in after):
            out.append(i)
        if not high and all(v <= x for x in before) and all(v < x for x in after):
            out.append(i)
    return out


@FAST
@given(st.integers(1, 4), st.integers(1, 4), st.lists(st.tuples(tied, tied), max_size=50),
       st.integers(0, 50))
def test_swings_step_is_the_swing_point_definition(left: int, right: int,
                                                  bars: list[tuple[float, float]],
                                                  cut: int) -> None:
    sw = Swings(left, right)
    highs, lows = [h for h, _ in bars], [lo for _, lo in bars]
    want_h = set(_swing_points(highs, left, right, True))
    want_l = set(_swing_points(lows, left, right, False))
    for i, (h, lo) in enumerate(bars):
        if i == cut:  # a checkpoint taken here and restored
            sw = pickle.loads(pickle.dumps(sw))
        found = sw.step(h, lo)
        assert bool(found & 1) == (i in want_h), (i, "high")
        assert bool(found & 2) == (i in want_l), (i, "low")
        if found & 1:
            assert sw.swing_high == (i - right, highs[i - right])
        if found & 2:
            assert sw.swing_low == (i - right, lows[i - right])
        assert found in (0, 1, 2, 3)


def test_swings_update_and_a_nan_bar() -> None:
    """A NaN high is never a newer extreme and never pops one (every comparison is false):
    the swing before it is still confirmed; update() gives the prices step() flags."""
    sw = Swings(1, 1)
    out = [sw.update(h, lo) for h, lo in [(1.0, 5.0), (3.0, 1.0), (float("nan"), 2.0),
                                          (2.0, 3.0), (1.0, 4.0)]]
    assert out[2] == (3.0, 1.0)
    assert out[0] == out[1] == (None, None)


prices = st.floats(90, 110, allow_nan=False) | st.sampled_from([100.0, 100.0, 101.0])


@FAST
@given(st.integers(2, 8), st.integers(1, 6), st.floats(0.05, 0.95),
       st.lists(st.tuples(prices, prices, prices, st.booleans()), max_size=60),
       st.integers(0, 60))
def test_regime_classified_on_few_bars_is_regime_updated_on_all(
        lookback: int, atr: int, er: float, bars: list, cut: int) -> None:
    every, few = Regime(lookback, er, atr), Regime(lookback, er, atr)
    for i, (a, b, c, look) in enumerate(bars):
        if i == cut:
            few = pickle.loads(pickle.dumps(few))
        hi, lo = max(a, b, c), min(a, b, c)
        state = every.update(hi, lo, c)
        few.feed(hi, lo, c)
        if look:
            assert few.classify() == state
            assert (few.state, few.er, few.vol_ratio, few.atr) == (
                every.state, every.er, every.vol_ratio, every.atr)
            assert few.describe() == every.describe()
            _check_numbers(few, bars[:i + 1], lookback, atr, er)


def _check_numbers(r: Regime, bars: list, lookback: int, p: int, trend_er: float) -> None:
    """The classified numbers from their textbook definitions (ER to 1e-7: a running
    sum): Wilder's ATR seeded with the mean of the first ``p`` true ranges, an EMA
    (alpha 2 / (4 * lookback + 1)) of ATR / close, ER = |net move| / path over ``lookback``."""
    hl = [(max(a, b, c), min(a, b, c), c) for a, b, c, _ in bars]
    closes = [c for _, _, c in hl]
    trs = [max(h - lo, h - closes[k - 1], closes[k - 1] - lo) for k, (h, lo, _) in
           enumerate(hl) if k]
    atr, avg, ratio = None, None, 1.0
    for k in range(1, len(hl)):
        if k == p:
            atr = sum(trs[:p]) / p
        elif k > p:
            atr = (atr * (p - 1) + trs[k - 1]) / p
        if atr is not None:
            frac = atr / closes[k]
            avg = frac if avg is None else avg + 2.0 / (lookback * 4 + 1.0) * (frac - avg)
            ratio = frac / avg if avg > 0.0 else 1.0
    i = len(hl) - 1
    if i < lookback or i < p:
        assert r.state == "warming up"
        return
    assert math.isclose(r.vol_ratio, ratio, rel_tol=1e-9), (r.vol_ratio, ratio)
    net = closes[i] - closes[i - lookback]
    path = sum(abs(closes[k] - closes[k - 1]) for k in range(i - lookback + 1, i + 1))
    er = abs(net) / path if path > 0 else 0.0
    if path > 1e-3:  # (the running path sum drifts by ~1e-13: compared where that is noise)
        assert math.isclose(r.er, er, rel_tol=1e-7, abs_tol=1e-9), (r.er, er)
    if abs(er - trend_er) > 1e-6 and path > 1e-3:
        want = ("trend up" if net > 0 else "trend down") if er >= trend_er else "range"
        assert r.state == want


def _edge_prices(price: float, eq: float) -> list[float]:
    tol = eq * price
    edges = [price + tol, price - tol, price + 2 * tol, price]
    out = []
    for e in edges:
        out += [e, math.nextafter(e, math.inf), math.nextafter(e, -math.inf)]
    return out


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["high", "low"]), st.sampled_from([100.0, 0.1, 37_123.45, 3.0]),
       st.sampled_from([0.0005, 0.001, 0.0]), st.data())
def test_publish_swing_relabels_what_a_full_scan_relabels(side: str, price: float,
                                                         eq: float, data) -> None:
    m = LiquidityMap(eq_tolerance=eq, max_pools=6)
    cands = [*_edge_prices(price, eq), price * 1.01, price * 0.99]
    for k in range(data.draw(st.integers(0, 9))):
        p = data.draw(st.sampled_from(cands))
        label = data.draw(st.sampled_from([f"swing {side}", f"equal {side}s", f"Asia {side}"]))
        m.add(Pool(label, side, p, k), -math.inf if side == "high" else math.inf,
              math.inf if side == "low" else -math.inf)
    if data.draw(st.booleans()):  # some taken first (the kept nearest moves)
        lvl = data.draw(st.sampled_from(cands))
        m.take_highs(lvl) if side == "high" else m.take_lows(lvl)
    pools = m.highs if side == "high" else m.lows
    assert m.nearest_high == min((p.price for p in m.highs), default=math.inf)
    assert m.nearest_low == max((p.price for p in m.lows), default=-math.inf)
    ref = copy.deepcopy(m)
    ref_pools = ref.highs if side == "high" else ref.lows
    tol = eq * price
    hit = next((p for p in ref_pools if abs(p.price - price) <= tol
                and p.label.startswith(("swing", "equal"))), None)
    if hit is not None:
        hit.label = f"equal {side}s"
    else:
        ref.add(Pool(f"swing {side}", side, price, 99), -math.inf if side == "high" else math.inf,
                math.inf if side == "low" else -math.inf)
    m._publish_swing(side, price, 99, -math.inf if side == "high" else math.inf,
                     math.inf if side == "low" else -math.inf)
    pools = m.highs if side == "high" else m.lows
    assert [(p.label, p.price) for p in pools] == [(p.label, p.price) for p in ref_pools]
    assert (m.nearest_high, m.nearest_low) == (ref.nearest_high, ref.nearest_low)


@FAST
@given(st.lists(st.tuples(st.integers(-3 * HOUR_MS, 80 * HOUR_MS), st.integers(95, 105),
                          st.integers(0, 3)), max_size=60))
def test_the_kept_hour_is_open_time_divided(bars: list[tuple[int, int, int]]) -> None:
    m = LiquidityMap(swing_left=1, swing_right=1)
    for k, (open_ts, px, spread) in enumerate(bars):
        m.update(open_ts, float(px + spread), float(px - spread), open_ts + 59_999)
        if open_ts >= -HOUR_MS:  # (before it, the first hour is the map's "no hour yet")
            assert m._hour == open_ts // HOUR_MS or (m._hour == -1 and open_ts < 0), k
        assert m.nearest_high == min((p.price for p in m.highs), default=math.inf)
        assert m.nearest_low == max((p.price for p in m.lows), default=-math.inf)


def _walk(steps: list[tuple[int, int, int, int]], symbol: str, scale: float) -> list[Bar]:
    t, p, out = 1_700_000_000_000, 1000, []
    for d, up, dn, gap in steps:
        t += 60_000 * gap
        o, c = p, p + d
        out.append(Bar(symbol, t, t + 59_999, o * scale, (max(o, c) + up) * scale,
                       (min(o, c) - dn) * scale, c * scale, 1.0))
        p = c
    return out


PARAMS = dict(swing_left=2, swing_right=2, regime_lookback=8, with_trend_only=0,
              cooldown_bars=1, stop_max_pct=1.0, stop_min_pct=0.01, eq_tolerance_pct=0.05)
steps = st.lists(st.tuples(st.integers(-6, 6), st.integers(0, 4), st.integers(0, 4),
                           st.integers(1, 3)), min_size=30, max_size=300)


def _run(strat: LiquiditySweep, bars: list[Bar]) -> list[tuple]:
    out = []
    for b in bars:
        sig = strat.on_bar(b)
        if sig is not None:
            out.append((b.symbol, b.ts, sig.side, sig.entry, sig.stop_loss, sig.take_profit,
                        sig.confidence, tuple(sig.reasons)))
        out += [("note", *n) for n in strat.drain_notes()]
    return out


@settings(max_examples=40, deadline=None)
@given(steps, steps, st.sampled_from(["1m", "5m"]), st.integers(0, 300))
def test_interleaved_symbols_get_what_each_gets_alone(a: list, b: list, tf: str,
                                                     cut: int) -> None:
    bars_a, bars_b = _walk(a, "AUSDT", 0.1), _walk(b, "BUSDT", 0.01)
    alone = (_run(LiquiditySweep(None, timeframe=tf, **PARAMS), bars_a)
             + _run(LiquiditySweep(None, timeframe=tf, **PARAMS), bars_b))
    both = sorted(bars_a + bars_b, key=lambda x: (x.ts, x.symbol))
    strat = LiquiditySweep(None, timeframe=tf, **PARAMS)
    mixed = _run(strat, both[:cut])
    strat = pickle.loads(pickle.dumps(strat))  # a checkpoint mid-run
    mixed += _run(strat, both[cut:])

    def of(symbol: str, rows: list[tuple]) -> list[tuple]:
        return [r for r in rows if symbol in (r[0], r[2] if r[0] == "note" else None)]

    for sym in ("AUSDT", "BUSDT"):
        assert of(sym, mixed) == of(sym, alone)
