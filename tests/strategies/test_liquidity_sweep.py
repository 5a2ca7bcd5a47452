"""liquidity_sweep end to end on a handcrafted two-day tape."""

from __future__ import annotations

from tapedesk.engine.events import Side
from tapedesk.engine.strategy import create

from tests.strategies.bars import MIN, bar, flat, utc_ms

DAY1 = utc_ms("2024-01-01 00:00")
DAY2 = utc_ms("2024-01-02 00:00")


def _two_days(sweep_bar):
    """Day 1 ranges 39,995–40,005 with one dip to 39,900 (12:00) and one spike to 40,100
    (15:00); day 2 is quiet until 02:00, when ``sweep_bar`` prints."""
    bars = flat(DAY1, 1440, 40_000, wiggle=5)
    bars[12 * 60] = bar(bars[12 * 60].open_ts, 40_000, 40_005, 39_900, 40_000)
    bars[15 * 60] = bar(bars[15 * 60].open_ts, 40_000, 40_100, 39_995, 40_000)
    bars += flat(DAY2, 120, 40_000, wiggle=5)
    bars.append(sweep_bar)
    return bars


def _run(bars, **params):
    """Signals and notes of the LAST bar only (day 1's own dip and spike are sweeps too)."""
    s = create("liquidity_sweep", **params)
    for b in bars[:-1]:
        s.on_bar(b)
    s.drain_notes()
    sig = s.on_bar(bars[-1])
    return s, [sig] if sig is not None else []


def test_sweep_of_prior_day_low_that_closes_back_above_is_a_long_with_a_traders_note():
    sweep = bar(DAY2 + 120 * MIN, 39_960, 39_970, 39_860, 39_950)
    _, signals = _run(_two_days(sweep))
    assert len(signals) == 1
    sig = signals[0]
    assert (sig.side, sig.entry, sig.ts) == (Side.LONG, 39_950, sweep.ts)
    assert sig.reasons[0].startswith("Swept prior-day low 39,900.0 by 0.10 %, closed back above")
    assert sig.reasons[1].startswith("range regime")
    # the wick midpoint (39,905) is only 0.11 % away: the stop goes beyond the wick instead
    assert sig.reasons[2] == "stop beyond the sweep low at 39,852.0 (0.25 %)"
    assert 0.0015 <= (sig.entry - sig.stop_loss) / sig.entry <= 0.0035
    assert sig.take_profit == 40_100 and sig.reasons[3].startswith("target prior-day high 40,100.0")


def test_sweep_that_closes_below_the_low_gives_no_signal():
    sweep = bar(DAY2 + 120 * MIN, 39_960, 39_970, 39_860, 39_880)
    s, signals = _run(_two_days(sweep))
    assert signals == []
    assert s.drain_notes()[-1][2] == (
        "Closed 39,880.0 below prior-day low 39,900.0: a break, not a sweep"
    )


def test_violent_bar_is_not_faded():
    sweep = bar(DAY2 + 120 * MIN, 40_020, 40_030, 39_720, 40_010)
    s, signals = _run(_two_days(sweep))
    assert signals == []
    assert s.drain_notes()[-1][2].endswith("volatility 3.1× normal: standing aside")


def test_stop_outside_the_band_gives_no_trade_and_a_note_saying_why():
    sweep = bar(DAY2 + 120 * MIN, 40_020, 40_030, 39_720, 40_010)
    s, signals = _run(_two_days(sweep), max_vol_ratio=10.0)  # volatility filter off
    assert signals == []
    note = s.drain_notes()[-1][2]
    assert note.startswith("Swept prior-day low 39,900.0 by 0.45 %, closed back above")
    assert note.endswith("wick midpoint 39,865.0 is 0.36 % away, beyond the 0.35 % cap: no trade")


def test_sweep_of_the_high_is_a_short_targeting_the_low_side():
    sweep = bar(DAY2 + 120 * MIN, 40_040, 40_160, 40_030, 40_050)
    _, signals = _run(_two_days(sweep))
    assert len(signals) == 1 and signals[0].side is Side.SHORT
    assert signals[0].reasons[0].startswith("Swept prior-day high 40,100.0 by 0.15 %")
    assert signals[0].stop_loss > 40_050 > signals[0].take_profit


def test_a_pool_is_only_swept_once():
    first = bar(DAY2 + 120 * MIN, 39_960, 39_970, 39_860, 39_950)
    # back through 39,900 but above the first sweep's own low (39,860, now a swing low)
    again = bar(DAY2 + 140 * MIN, 39_960, 39_970, 39_870, 39_950)
    bars = _two_days(first) + flat(DAY2 + 121 * MIN, 19, 39_950, wiggle=5) + [again]
    _, signals = _run(bars[:1561])
    assert len(signals) == 1
    _, signals = _run(bars)
    assert signals == []


def test_higher_timeframe_mode_judges_completed_15m_bars_only():
    s = create("liquidity_sweep", timeframe="15m")
    bars = flat(DAY1, 60 * 30, 40_000, wiggle=5)
    assert all(s.on_bar(b) is None for b in bars)
    assert s._states["BTCUSDT"].resampler is not None


def test_unknown_and_bad_parameters_are_named():
    import pytest
    from tapedesk.engine.strategy import StrategyError

    with pytest.raises(StrategyError, match="timeframe"):
        create("liquidity_sweep", timeframe="7m")
    with pytest.raises(StrategyError, match="stop_min_pct"):
        create("liquidity_sweep", stop_min_pct=0.5, stop_max_pct=0.3)
    with pytest.raises(StrategyError, match="unknown parameter"):
        create("liquidity_sweep", stop=1)


def _five_minute_sweep_then(after):
    sweep = [bar(DAY2 + 120 * MIN, 39_960, 39_970, 39_860, 39_950)]
    sweep += [bar(DAY2 + (121 + i) * MIN, 39_950, 39_955, 39_945, 39_950) for i in range(4)]
    return _two_days(sweep[0])[:-1] + sweep + after


def test_higher_timeframe_sweep_waits_for_a_1m_confirmation_close():
    confirm = bar(DAY2 + 125 * MIN, 39_950, 39_975, 39_948, 39_972)
    s = create("liquidity_sweep", timeframe="5m", confirm_bars=3)
    sigs = [x for b in _five_minute_sweep_then([confirm]) if (x := s.on_bar(b))]
    sig = sigs[-1]
    assert sig.ts == confirm.ts and sig.entry == 39_972 and sig.side is Side.LONG
    assert sig.reasons[0].startswith("Swept prior-day low 39,900.0")
    assert sig.reasons[2] == "confirmed on 1m: closed 39,972.0 beyond the reclaim 39,950.0"


def test_no_confirmation_within_the_window_means_no_trade():
    drift = [bar(DAY2 + (125 + i) * MIN, 39_950, 39_955, 39_940, 39_945) for i in range(3)]
    s = create("liquidity_sweep", timeframe="5m", confirm_bars=3)
    sigs = [x for b in _five_minute_sweep_then(drift) if (x := s.on_bar(b))]
    assert all(x.ts < DAY2 for x in sigs)
    assert s.drain_notes()[-1][2].endswith("no 1m confirmation in time")
