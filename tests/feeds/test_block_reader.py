"""The block-at-a-time CSV reader gives exactly what the line-by-line reader gave.

The oracle is the line-by-line pipeline as it was before blocks (row readers → sanity →
leap filter → head/interval → duplicates → range), copied here verbatim as generators, so
the new ``BarStream`` and the column parsers are checked against the old code, not
themselves: same bars (same floats), same skip summary, same ``file:line`` errors.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tapedesk.engine.clock import iso
from tapedesk.engine.events import Bar
from tapedesk.engine.feeds import bar_copy
from tapedesk.engine.feeds.checks import DataError, Skips, bar_problem, max_ts_ms
from tapedesk.engine.feeds.files import (
    _Counted,
    _read_errors,
    detect_format,
    interval_from_name,
    iter_events,
    open_text,
    symbol_from_name,
)
from tapedesk.engine.feeds.readers import ROW_READERS
from tapedesk.engine.sample_data import SAMPLE_BARS_1M

LEAP_MS = 86_400_000


# -- the old line-by-line pipeline (engine/feeds/readers.py before blocks) ------------------

def _old_sane_rows(rows: Iterator[Any], skips: Skips) -> Iterator[Any]:
    max_ms = max_ts_ms()
    for row in rows:
        bad = bar_problem(*row[1:], max_ms)
        if bad:
            skips.add(row[0], bad)
            continue
        yield row


def _old_without_leaps(items: Iterator[Any], skips: Skips) -> Iterator[Any]:
    prev_t = None
    held = None
    for item in items:
        t = item[1]
        if held is not None:
            held_line, held_t = held[0], held[1]
            if t < held_t:
                skips.add(held_line, f"time {held_t} leaps ahead of its neighbours")
            else:
                prev_t = held_t
                yield held
            held = None
        if prev_t is not None and t - prev_t > LEAP_MS:
            held = item
            continue
        prev_t = t
        yield item
    if held is not None:
        yield held


def _old_bars(rows: Iterator[Any], symbol: str, interval_hint: int | None, skips: Skips,
              start_ms: int | None, end_ms: int | None) -> Iterator[Bar]:
    rows = _old_without_leaps(_old_sane_rows(rows, skips), skips)
    head = list(itertools.islice(rows, 64))
    deltas = [b[1] - a[1] for a, b in itertools.pairwise(head) if b[1] > a[1]]
    interval = min(deltas) if deltas else (interval_hint or 60_000)
    last_open = None
    for lineno, t, ct, o, h, lo, c, v in itertools.chain(head, rows):
        if last_open is not None and t <= last_open:
            skips.add(lineno, f"bar open time {t} does not advance (duplicate or out of order)")
            continue
        last_open = t
        ts = ct if ct is not None else t + interval - 1
        if ts < t:
            skips.add(lineno, f"close time {ts} is before open time {t}")
            continue
        if start_ms is not None and ts < start_ms:
            continue
        if end_ms is not None and ts >= end_ms:
            return
        yield Bar(symbol, t, ts, o, h, lo, c, v)


def _old_read(path: Path, start: int | None, end: int | None) -> tuple[list, list, str | None]:
    fmt = detect_format(path)
    warnings: list[str] = []
    skips = Skips(str(path), warnings.append)
    sym = symbol_from_name(path) or "BTCUSDT"
    out: list = []
    try:
        with open_text(path) as raw:
            fh = _Counted(raw)
            with _read_errors(path, fh):
                rows = ROW_READERS[fmt](fh, str(path), skips)
                out.extend(_old_bars(rows, sym, interval_from_name(path), skips, start, end))
        skips.report()
    except DataError as exc:
        return out, warnings, str(exc)
    return out, warnings, None


def _new_read(path: Path, start: int | None, end: int | None,
              cache: Path | None = None) -> tuple[list, list, str | None]:
    warnings: list[str] = []
    out: list = []
    try:
        out.extend(iter_events(path, None, start, end, warnings.append, cache_dir=cache))
    except DataError as exc:
        return out, warnings, str(exc)
    return out, warnings, None


def _key(bars: list) -> list[tuple]:
    return [(b.symbol, b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars]


# -- files: the real 1m sample in each CSV layout, clean and spoiled -------------------------

@pytest.fixture(scope="module")
def sample() -> list[Bar]:
    from tapedesk.engine.feeds import load_bars

    return load_bars(SAMPLE_BARS_1M)[:12_000]  # ~3 blocks of 256 KiB as OHLCV text


def _lines(bars: list[Bar], layout: str) -> list[str]:
    if layout == "ohlcv":
        return ["timestamp,open,high,low,close,volume\n"] + [
            f"{iso(b.open_ts).replace('T', ' ').rstrip('Z')},{b.open!r},{b.high!r},{b.low!r},"
            f"{b.close!r},{b.volume!r}\n" for b in bars]
    if layout == "binance":
        return [f"{b.open_ts},{b.open!r},{b.high!r},{b.low!r},{b.close!r},{b.volume!r},{b.ts},"
                "0,1,0,0,0\n" for b in bars]
    return [f"{b.open_ts // 1000},{b.open!r},{b.close!r},{b.low!r},{b.high!r},{b.volume!r},7\n"
            for b in bars]  # ninjabot: time(s), open, close, low, high, volume, trades


def _spoil(lines: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = lines[:]
    for i in rng.sample(range(2, len(lines)), 60):
        line = lines[i]
        k = rng.randrange(9)
        if k == 0:
            lines[i] = line.replace(",", ",x", 1)  # unparsable
        elif k == 1:
            lines[i] = lines[i - 1]  # duplicate
        elif k == 2:
            lines[i] = "\n"  # blank
        elif k == 3:
            lines[i] = line[:12] + "\n"  # ragged
        elif k == 4:
            lines[i] = line.rstrip("\n") + ",extra\n"  # one field more
        elif k == 5:
            lines[i] = line.replace("\n", "\r\n")
        elif k == 6:
            lines[i] = line.replace(",", ",nan,", 1) if line.count(",") > 6 else "nan\n"
        elif k == 7:
            lines[i], lines[i - 1] = lines[i - 1], line  # out of order
        else:
            lines[i] = line.replace(".0,", "e999,", 1)  # inf
    return lines


CASES = [(layout, spoil) for layout in ("ohlcv", "binance", "ninja") for spoil in (0, 1)]


@pytest.mark.parametrize(("layout", "spoil"), CASES)
def test_blocks_read_what_lines_read(tmp_path: Path, sample: list[Bar], layout: str,
                                     spoil: int) -> None:
    name = {"ohlcv": "btc_1m.csv", "binance": "BTCUSDT-1m-2022-01.csv",
            "ninja": "btc-1m-ninja.csv"}[layout]
    lines = _lines(sample, layout)
    if spoil:
        lines = _spoil(lines, seed=len(lines))
    path = tmp_path / name
    path.write_text("".join(lines))
    mid = sample[len(sample) // 2].ts
    for start, end in ((None, None), (sample[100].ts, mid), (mid, None)):
        old = _old_read(path, start, end)
        new = _new_read(path, start, end)
        assert _key(new[0]) == _key(old[0])
        assert new[1:] == old[1:]
        assert old[0], "no bars read: the comparison would prove nothing"
        assert bool(old[1]) == bool(spoil)


def test_a_truncated_gzip_names_the_same_line(tmp_path: Path, sample: list[Bar]) -> None:
    whole = gzip.compress("".join(_spoil(_lines(sample, "ohlcv"), 3)).encode())
    path = tmp_path / "btc_1m.csv.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    for end in (None, sample[500].ts):  # an end before the break never meets it
        old, new = _old_read(path, None, end), _new_read(path, None, end)
        assert _key(new[0]) == _key(old[0])
        assert new[1:] == old[1:]
    assert "compressed data is truncated" in (_old_read(path, None, None)[2] or "")


def test_the_columnar_copy_reads_the_same_bars(tmp_path: Path, sample: list[Bar],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    path = tmp_path / "btc_1m.csv"
    path.write_text("".join(_lines(sample, "ohlcv")))
    cache = tmp_path / "cache"
    first = _new_read(path, None, None, cache)  # reads the text, writes the copy
    copy = bar_copy.valid_copy(cache, path, "ohlcv_csv")
    assert copy is not None
    assert _key(first[0]) == _key(_old_read(path, None, None)[0])
    mid = sample[len(sample) // 2].ts
    for start, end in ((None, None), (sample[100].ts, mid), (mid, None), (mid, mid)):
        assert _key(_new_read(path, start, end, cache)[0]) == _key(_old_read(path, start, end)[0])
    path.write_text("".join(_spoil(_lines(sample, "ohlcv"), 5)))  # changed: the copy is stale
    assert bar_copy.valid_copy(cache, path, "ohlcv_csv") is None
    spoiled = _new_read(path, None, None, cache)
    assert spoiled[1:] == _old_read(path, None, None)[1:] and spoiled[1]
    dirty = bar_copy.valid_copy(cache, path, "ohlcv_csv")  # a dirty file: a copy marked so
    assert dirty is not None and dirty.meta["clean"] is False
    again = _new_read(path, None, None, cache)  # read from the text: the skips are told again
    assert _key(again[0]) == _key(spoiled[0]) and again[1:] == spoiled[1:]
    assert [p.name for p in cache.iterdir()] == [dirty.path.name]  # no part files left


def _cli(*args: str) -> dict:
    out = subprocess.run(["tapedesk", *args, "--json"], capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    doc = json.loads(out.stdout)
    doc.pop("run", None)
    return doc | {"stderr_warnings": [ln for ln in out.stderr.splitlines()
                                      if ln.startswith("warning")]}


def test_the_command_streams_blocks_and_its_copy_to_the_same_result(tmp_path: Path) -> None:
    """The console script on a multi-block CSV: the same trades and JSON as the in-memory
    backtest of the old reader's bars; with a columnar copy (second run) the same again."""
    from tapedesk.engine.backtest import run_backtest
    from tapedesk.engine.feeds import load_bars
    from tapedesk.engine.strategy import create

    month = load_bars(SAMPLE_BARS_1M)
    lines = _lines(month, "ohlcv") + _lines(_shifted(month), "ohlcv")[1:]  # ~5.8 MB
    path = tmp_path / "btc_1m.csv"
    path.write_text("".join(lines))
    assert path.stat().st_size >= bar_copy.MIN_SOURCE_BYTES  # the copy is written
    bars, warnings, err = _old_read(path, None, None)
    assert err is None and not warnings
    expect = json.loads(json.dumps(
        run_backtest(bars, [create("ema_cross")]).to_json(), default=str))
    home = tmp_path / "home"
    args = ("--data-dir", str(home), "backtest", "--data", str(path), "--strategy", "ema_cross")
    first = _cli(*args)
    assert list(home.glob("cache/bars/*.cols")), "the first run wrote no binary copy"
    second = _cli(*args)
    text_again = _cli(*args, "--no-cache")
    for doc in (first, second, text_again):
        assert doc.pop("skipped") == {}
        assert doc.pop("stderr_warnings") == []
        assert doc == expect
    assert expect["trades"], "a run without trades would prove nothing"


def _shifted(bars: list[Bar]) -> list[Bar]:
    """The same bars again right after the last (a two-month file)."""
    d = bars[-1].open_ts - bars[0].open_ts + 60_000
    return [Bar(b.symbol, b.open_ts + d, b.ts + d, b.open, b.high, b.low, b.close, b.volume)
            for b in bars]


def _block_starts(lines: list[str], header: bool) -> list[int]:
    """Index of the first line of each block the reader reads (readlines' size hint)."""
    from tapedesk.engine.feeds.csv_stream import BLOCK_CHARS

    starts, size = [1 if header else 0], 0
    for i in range(starts[0], len(lines)):
        size += len(lines[i])
        if size >= BLOCK_CHARS:
            starts.append(i + 1)
            size = 0
    return starts


SPOILS = ("duplicate", "back", "nan", "inf", "high_below_low", "future", "leap", "before_2009",
          "into_future")


@pytest.mark.parametrize("layout", ["ohlcv", "binance"])
@pytest.mark.parametrize("spoil", SPOILS)
def test_a_block_that_parses_but_fails_a_check_reads_as_lines(
        tmp_path: Path, sample: list[Bar], layout: str, spoil: str) -> None:
    """One parseable bad row at the second block's first line and one in the middle of the
    third: the column checks, not the parser, must send each of those blocks to the line
    reader (a block holding only one of them tests that check alone)."""
    bars = list(sample)
    starts = _block_starts(_lines(bars, layout), layout == "ohlcv")
    assert len(starts) >= 3
    offset = 1 if layout == "ohlcv" else 0
    first_of_2, mid_of_3 = starts[1] - offset, (starts[2] - offset + len(bars)) // 2
    if spoil == "into_future":  # the file runs past "now + 7 days" in the third block
        d = max_ts_ms() - bars[mid_of_3].open_ts + 60_000
        bars = [Bar(b.symbol, b.open_ts + d, b.ts + d, b.open, b.high, b.low, b.close, b.volume)
                for b in bars]
    # a leap at the second block's last line: held across the block's end
    at_first = starts[2] - offset - 1 if spoil == "leap" else first_of_2
    for at in (at_first, mid_of_3) if spoil != "into_future" else ():
        b = bars[at]
        if spoil == "duplicate":
            bars[at] = bars[at - 1]
        elif spoil == "back":
            bars[at], bars[at - 1] = bars[at - 1], bars[at]
        elif spoil == "nan":
            bars[at] = Bar(b.symbol, b.open_ts, b.ts, b.open, b.high, b.low, b.close, float("nan"))
        elif spoil == "inf":
            bars[at] = Bar(b.symbol, b.open_ts, b.ts, b.open, float("inf"), b.low, b.close, 1.0)
        elif spoil == "high_below_low":
            bars[at] = Bar(b.symbol, b.open_ts, b.ts, b.open, b.low - 1, b.high + 1, b.close, 1.0)
        else:
            d = {"future": 100 * 365 * LEAP_MS, "leap": 3 * LEAP_MS,
                 "before_2009": -20 * 365 * LEAP_MS}[spoil]
            bars[at] = Bar(b.symbol, b.open_ts + d, b.ts + d, b.open, b.high, b.low, b.close, 1)
    path = tmp_path / ("btc_1m.csv" if layout == "ohlcv" else "BTCUSDT-1m-2022-01.csv")
    path.write_text("".join(_lines(bars, layout)))
    old, new = _old_read(path, None, None), _new_read(path, None, None)
    assert _key(new[0]) == _key(old[0])
    assert new[1:] == old[1:]
    assert old[1] and old[2] is None  # the skip summary names both rows


def test_progress_follows_the_columnar_copy(tmp_path: Path, sample: list[Bar],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Bars read from the copy still move the progress bar (scaled to the CSV's size)."""
    from tapedesk.engine.backtest_cli import _bytes_read

    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    monkeypatch.setattr(bar_copy, "BLOCK", 1000)
    path = tmp_path / "btc_1m.csv"
    path.write_text("".join(_lines(sample, "ohlcv")))
    cache = tmp_path / "cache"
    list(iter_events(path, cache_dir=cache))  # writes the copy
    seen: list[int] = []
    report = _bytes_read(path, seen.append, cache)
    events = iter_events(path, cache_dir=cache)
    for _ in itertools.islice(events, 10):
        pass
    report(10)
    size = path.stat().st_size
    assert seen and 0 < seen[0] < size // 2  # one block of 1,000 of 12,000 bars read
    assert len(list(events)) == len(sample) - 10


_ODD = st.one_of(st.sampled_from([0.0, -0.0, -1.0, 1e300, float("nan"), float("inf"),
                                   float("-inf")]), st.floats(allow_nan=True))


@st.composite
def _row(draw: st.DrawFn) -> tuple[float, ...]:
    """A valid (o, h, lo, c, v) row, often with one field made odd."""
    lo = draw(st.floats(0.01, 1e6))
    h = lo + draw(st.floats(0, 1e3))
    o, c = (lo + (h - lo) * draw(st.floats(0, 1)) for _ in range(2))
    row = [min(max(o, lo), h), h, lo, min(max(c, lo), h), draw(st.floats(0, 1e9))]
    if draw(st.booleans()):
        row[draw(st.integers(0, 4))] = draw(_ODD)
    return tuple(row)


_NAN, _INF = float("nan"), float("inf")


@settings(max_examples=500, deadline=None)
@given(st.lists(_row(), min_size=1, max_size=5))
@example([(1.0, 1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0, _NAN)])  # min/max step over NaN
@example([(2.0, 2.0, 2.0, 2.0, 1.0), (_NAN, 2.0, 1.0, 2.0, 1.0)])
@example([(2.0, _INF, 1.0, 2.0, 1.0)])
@example([(2.0, 3.0, 1.0, 2.0, 1.0), (2.0, 3.0, -_INF, 2.0, 1.0)])
def test_a_block_is_sane_exactly_when_every_row_passes(rows: list[tuple]) -> None:
    """The column-at-a-time value check accepts a block iff ``bar_problem`` passes every
    row (NaN, inf, zero, negative, huge, low above high, open/close outside the range)."""
    from tapedesk.engine.feeds.bar_stream import _sane_values

    t = 1_640_995_200_000
    rowwise = all(bar_problem(t, None, o, h, lo, c, v, max_ts_ms()) is None
                  for o, h, lo, c, v in rows)
    assert _sane_values(*map(list, zip(*rows, strict=True))) == rowwise


def test_after_an_error_the_stream_ends_without_a_summary(tmp_path: Path,
                                                         sample: list[Bar]) -> None:
    """``iter_events`` is a chain of parts now, not a generator: a read that raised is over
    (the next ``next`` ends it) and tells no skip summary, as the generator did."""
    whole = gzip.compress("".join(_spoil(_lines(sample, "ohlcv"), 3)).encode())
    path = tmp_path / "btc_1m.csv.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    warned: list[str] = []
    events = iter_events(path, warn=warned.append)
    with pytest.raises(DataError, match="truncated"):
        for _ in events:
            pass
    assert next(events, None) is None and warned == []
    full = tmp_path / "btc_1m.csv"
    full.write_text("".join(_spoil(_lines(sample, "ohlcv"), 3)))
    assert len(list(iter_events(full, warn=warned.append))) > 0 and len(warned) == 1
