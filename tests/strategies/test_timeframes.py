"""Higher-timeframe bars: UTC-aligned, emitted only when complete, equal to a plain groupby."""

from __future__ import annotations

import pytest
from tapedesk.engine.timeframes import Resampler, Timeframes, timeframe_ms

from tests.strategies.bars import MIN, bar, utc_ms


def test_timeframe_names_parse_and_bad_ones_are_named():
    assert timeframe_ms("15m") == 15 * MIN
    assert timeframe_ms("4h") == 4 * 60 * MIN
    assert timeframe_ms("1d") == 24 * 60 * MIN
    for bad in ("", "15", "m", "0m", "7m", "1w", "1.5h"):
        with pytest.raises(ValueError, match="timeframe"):
            timeframe_ms(bad)


def test_five_minute_bar_is_emitted_on_its_last_minute_not_before():
    r = Resampler("5m")
    t0 = utc_ms("2024-01-02 10:00")
    outs = [r.update(bar(t0 + i * MIN, 100 + i, 101 + i, 99 - i, 100.5 + i)) for i in range(5)]
    assert outs[:4] == [None] * 4
    b = outs[4]
    assert (b.open_ts, b.ts) == (t0, t0 + 5 * MIN - 1)
    assert (b.open, b.high, b.low, b.close, b.volume) == (100, 105, 95, 104.5, 5.0)


def test_buckets_align_to_utc_even_when_the_stream_starts_mid_bucket():
    r = Resampler("15m")
    t = utc_ms("2024-01-02 10:07")  # 10:07..10:14 is the tail of the 10:00 bucket
    outs = [r.update(bar(t + i * MIN, 1, 2, 0.5, 1)) for i in range(8)]
    assert outs[-1] is not None and outs[-1].open_ts == utc_ms("2024-01-02 10:00")
    assert r.count == 0


def test_a_gap_closes_the_old_bucket_when_the_next_bucket_starts():
    r = Resampler("1h")
    t = utc_ms("2024-01-02 10:00")
    assert r.update(bar(t, 1, 2, 0.5, 1.5)) is None
    assert r.update(bar(t + 30 * MIN, 1.5, 3, 1, 2)) is None  # minutes missing, still open
    out = r.update(bar(utc_ms("2024-01-02 11:05"), 2, 2, 2, 2))  # the 10:00 hour is over
    assert out is not None and out.open_ts == t and out.high == 3


def test_daily_bars_roll_at_midnight_utc():
    tf = Timeframes(("4h", "1d"))
    t = utc_ms("2024-01-02 23:59")
    done = tf.update(bar(t, 1, 1, 1, 1))
    assert [(name, b.open_ts) for name, b in done] == [
        ("4h", utc_ms("2024-01-02 20:00")),
        ("1d", utc_ms("2024-01-02 00:00")),
    ]


def test_resampled_real_data_equals_an_independent_groupby(bars_1m):
    bars = bars_1m[:10_000]
    for tf in ("5m", "15m", "1h", "4h", "1d"):
        ms = timeframe_ms(tf)
        groups: dict[int, list] = {}
        for b in bars:
            groups.setdefault(b.open_ts - b.open_ts % ms, []).append(b)
        r = Resampler(tf)
        got = [x for b in bars for x in r.update_all(b)]
        # the last group may still be open at the end of the data: never emitted early
        last_start = max(groups)
        last_complete = groups[last_start][-1].ts >= last_start + ms - 1
        expect_keys = sorted(k for k in groups if k != last_start or last_complete)
        assert [g.open_ts for g in got] == expect_keys, tf
        for g in got:
            grp = groups[g.open_ts]
            assert g.open == grp[0].open and g.close == grp[-1].close
            assert g.high == max(b.high for b in grp) and g.low == min(b.low for b in grp)
            assert g.volume == pytest.approx(sum(b.volume for b in grp))


def test_no_higher_bar_is_visible_before_its_last_minute_closes(bars_1m):
    r = Resampler("1h")
    for b in bars_1m[:5000]:
        out = r.update(b)
        if out is not None:
            assert out.ts <= b.ts, "a 1h bar was emitted before its last 1m bar closed"
