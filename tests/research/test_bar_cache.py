"""The packed bars a search reads are exactly the bars the file reader yields."""

from __future__ import annotations

from pathlib import Path

from tapedesk.engine.feeds.files import iter_events
from tapedesk.engine.research import bar_cache
from tapedesk.engine.sample_data import SAMPLE_STREAM

from tests.research._search import DAY, write_slice


def _rows(events):
    return [(b.symbol, b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume) for b in events]


def test_cached_windows_equal_the_readers_windows(tmp_path: Path):
    data = write_slice(tmp_path / "BTCUSDT-1m.csv", days=2)
    dest = bar_cache.cache_file(tmp_path / "cache", "ab" * 32, None)
    first, end, n = bar_cache.build(data, "ohlcv_csv", None, dest)
    assert n == 2 * 1440 and bar_cache.span(dest) == (first, end, n)
    for start, stop in ((None, None), (first + DAY // 3, first + DAY + 17), (first, first + 1),
                        (end - 1, None), (end, None)):
        assert _rows(bar_cache.iter_bars(dest, start, stop)) == _rows(
            iter_events(data, None, start, stop)), (start, stop)
    assert bar_cache.span(dest, first + DAY, None) == (first + DAY, end, 1440)


def test_stream_captures_are_not_cached(tmp_path: Path):
    assert bar_cache.ensure("ws_capture", SAMPLE_STREAM, "cd" * 32, None, tmp_path) is None
    assert not list(tmp_path.iterdir())
