"""The bars a search reads from its binary copy are exactly the bars the file reader yields."""

from __future__ import annotations

from pathlib import Path

from tapedesk.engine.feeds import bar_copy
from tapedesk.engine.feeds.files import iter_events
from tapedesk.engine.research import bar_cache
from tapedesk.engine.sample_data import SAMPLE_STREAM

from tests.research._search import DAY, write_slice


def _rows(events):
    return [(b.symbol, b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume) for b in events]


def test_cached_windows_equal_the_readers_windows(tmp_path: Path):
    data = write_slice(tmp_path / "BTCUSDT-1m.csv", days=2)
    cache = bar_cache.ensure("ohlcv_csv", data, None, tmp_path / "cache")
    assert cache is not None
    first, end, n = bar_cache.span(cache)
    assert n == 2 * 1440
    for start, stop in ((None, None), (first + DAY // 3, first + DAY + 17), (first, first + 1),
                        (end - 1, None), (end, None)):
        assert _rows(bar_cache.iter_bars(cache, start, stop)) == _rows(
            iter_events(data, None, start, stop)), (start, stop)
    assert bar_cache.span(cache, first + DAY, None) == (first + DAY, end, 1440)
    # the copy is the one the backtest reads: same file, same invalidation rule
    assert cache[0].path == bar_copy.copy_path(tmp_path / "cache", data)
    again = bar_cache.ensure("ohlcv_csv", data, "ethusdt", tmp_path / "cache")
    assert again is not None and again[0].path == cache[0].path
    assert {b.symbol for b in bar_cache.iter_bars(again)} == {"ETHUSDT"}


def test_stream_captures_are_not_cached(tmp_path: Path):
    assert bar_cache.ensure("ws_capture", SAMPLE_STREAM, None, tmp_path) is None
    assert not list(tmp_path.iterdir())


def test_the_old_packed_copies_are_removed_others_kept(tmp_path: Path):
    old = tmp_path / "optimize" / "cache"
    old.mkdir(parents=True)
    (old / f"{'ab' * 16}-AUTO.bars").write_bytes(b"TDBARS1\0" + bytes(24 + 56 * 3))
    (old / "notes.bars").write_bytes(b"mine")
    bar_cache.drop_old_caches(tmp_path)
    assert sorted(p.name for p in old.iterdir()) == ["notes.bars"]
    (old / "notes.bars").unlink()
    bar_cache.drop_old_caches(tmp_path)
    assert not old.exists() and (tmp_path / "optimize").is_dir()
