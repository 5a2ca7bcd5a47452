"""A backtest's ``--from``/``--to`` window read from the binary copy must be exactly the
window read from the text, wherever the cut falls relative to the copy's read blocks, on bar
boundaries, between them, before the first and after the last."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tapedesk.engine.feeds import bar_copy, load_bars
from tapedesk.engine.feeds.files import iter_events
from tapedesk.engine.sample_data import SAMPLE_BARS_1M

from tests.attacks_speed.test_bar_copy_identity import _fixed_width_csv


def _key(path: Path, cache, start, end) -> list[tuple]:
    return [(b.symbol, b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume)
            for b in iter_events(path, None, start, end, lambda _: None, "ohlcv_csv", cache)]


@pytest.mark.parametrize("block", [1, 7, 64])
def test_cuts_of_the_copy_equal_cuts_of_the_text(tmp_path: Path, monkeypatch, block: int):
    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    monkeypatch.setattr(bar_copy, "BLOCK", block)
    bars = load_bars(SAMPLE_BARS_1M)[:600]
    src = _fixed_width_csv(tmp_path / "btc_1m.csv", bars, 1.0)
    cache = tmp_path / "cache"
    assert _key(src, cache, None, None) == _key(src, None, None, None)
    assert bar_copy.valid_copy(cache, src, "ohlcv_csv") is not None
    rnd = random.Random(block)
    first, last = bars[0].ts, bars[-1].ts
    points = [None, first - 10**9, first, first + 1, last, last + 1, last + 10**9]
    points += [rnd.randint(first - 100_000, last + 100_000) for _ in range(12)]
    points += [bars[rnd.randrange(len(bars))].ts + d for d in (-1, 0, 1) for _ in range(3)]
    for start in points:
        for end in rnd.sample(points, 6):
            assert _key(src, cache, start, end) == _key(src, None, start, end), (start, end)
