"""One binary format for bars: the backtest's copy, the optimizer's copy and the market store
read the same bars from it, and a stale, old-format, truncated, corrupt or foreign file is
rebuilt or refused, never misread."""

from __future__ import annotations

import json
import os
import subprocess
import time
import zlib
from array import array
from pathlib import Path

import pytest
from tapedesk.engine.clock import iso
from tapedesk.engine.events import Bar
from tapedesk.engine.feeds import DataError, bar_copy, columnar, load_bars
from tapedesk.engine.feeds.files import iter_events
from tapedesk.engine.market_data.store import month_bars, save_month
from tapedesk.engine.research import bar_cache
from tapedesk.engine.sample_data import SAMPLE_BARS_1M


@pytest.fixture(scope="module")
def bars() -> list[Bar]:
    return load_bars(SAMPLE_BARS_1M)[:5_000]


def _key(bars) -> list[tuple]:
    return [(b.symbol, b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars]


def _csv(path: Path, bars: list[Bar]) -> Path:
    path.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{iso(b.open_ts)},{b.open!r},{b.high!r},{b.low!r},{b.close!r},{b.volume!r}\n"
        for b in bars))
    return path


def _settled(path: Path) -> Path:
    """The source as most are: last written an hour ago. A copy made within seconds of its
    source's change is "racy" and carries a checksum in its header, so on a slow machine a
    copy made anew (seconds later) may differ in that header from the first one."""
    then = time.time_ns() - 3_600 * 10**9
    os.utime(path, ns=(then, then))
    return path


def _read(path: Path, cache: Path | None, start=None, end=None) -> tuple[list[tuple], list[str]]:
    warned: list[str] = []
    got = _key(iter_events(path, None, start, end, warned.append, "ohlcv_csv", cache))
    return got, warned


def test_the_three_uses_read_the_same_bars_from_one_format(tmp_path: Path, bars: list[Bar],
                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    src = _csv(tmp_path / "BTCUSDT-1m.csv", bars)
    text, _ = _read(src, None)
    assert len(text) == len(bars)
    cache = tmp_path / "cache"
    assert _read(src, cache) == (text, [])  # backtest: reads the text, writes the copy
    copy = bar_copy.valid_copy(cache, src, "ohlcv_csv")
    assert copy is not None and copy.meta["clean"] is True
    assert _read(src, cache) == (text, [])  # backtest: from the copy
    searched = bar_cache.ensure("ohlcv_csv", src, None, cache)  # optimize: the same file
    assert searched is not None and searched[0].path == copy.path
    assert _key(bar_cache.iter_bars(searched)) == text
    store = tmp_path / "BTCUSDT-1m-2022-01.cols"  # tapedesk data: compressed, same layout
    save_month(store, [(b.open_ts, b.open, b.high, b.low, b.close, b.volume) for b in bars],
               "klines", "1m", {})
    assert _key(month_bars(store, "BTCUSDT", "1m")) == text
    for path in (copy.path, store):
        assert path.read_bytes().startswith(columnar.MAGIC)
    assert {c.codec for c in columnar.open_table(store).columns.values()} == {columnar.PACKED}
    assert {c.codec for c in copy.columns.values()} == {columnar.RAW}


def test_a_version_1_store_file_is_read_as_it_was(tmp_path: Path, bars: list[Bar]):
    """Months downloaded before this format: no codec in the header, every column shuffled
    and zlib'd; read, not refused (they cannot be rebuilt without a download)."""
    cols = {"open_ms": array("q", [b.open_ts for b in bars]),
            "open": array("d", [b.open for b in bars]), "high": array("d", [b.high for b in bars]),
            "low": array("d", [b.low for b in bars]), "close": array("d", [b.close for b in bars]),
            "volume": array("d", [b.volume for b in bars])}
    blobs = [zlib.compress(columnar._shuffle(c.tobytes()), 6) for c in cols.values()]
    head = {"rows": len(bars), "meta": {"first": bars[0].open_ts},
            "columns": [{"name": n, "type": c.typecode, "bytes": len(b)}
                        for (n, c), b in zip(cols.items(), blobs, strict=True)]}
    path = tmp_path / "BTCUSDT-1m-2022-01.cols"
    path.write_bytes(columnar.MAGIC_V1 + json.dumps(head).encode() + b"\n" + b"".join(blobs))
    assert _key(month_bars(path, "BTCUSDT", "1m")) == _key(bars)
    assert columnar.read_header(path)["meta"] == {"first": bars[0].open_ts}


def _damages(good: bytes) -> dict[str, bytes]:
    end = good.index(b"\n", len(columnar.MAGIC)) + 1
    head = json.loads(good[len(columnar.MAGIC):end])
    grown = dict(head, rows=head["rows"] + 1)
    return {
        "truncated": good[:-8],
        "header cut": good[:end - 5],
        "grown": good + b"\0" * 8,
        "foreign": b"PK\x03\x04" + os.urandom(2000),
        "empty": b"",
        "rows lie": columnar.MAGIC + json.dumps(grown).encode() + b"\n" + good[end:],
        "old magic": columnar.MAGIC_V1 + good[len(columnar.MAGIC):],
        "other source": good.replace(b'"size":', b'"size":1', 1),
    }


def test_a_damaged_or_stale_copy_is_rebuilt_never_misread(tmp_path: Path, bars: list[Bar],
                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    src = _settled(_csv(tmp_path / "btc_1m.csv", bars))  # rebuilt copies: the same bytes
    text, _ = _read(src, None)
    cache = tmp_path / "cache"
    _read(src, cache)
    where = bar_copy.copy_path(cache, src)
    good = where.read_bytes()
    cut = (bars[100].ts, bars[4000].ts)
    for name, bad in _damages(good).items():
        where.write_bytes(bad)
        assert bar_copy.valid_copy(cache, src, "ohlcv_csv") is None, name
        assert _read(src, cache, *cut)[0] == _read(src, None, *cut)[0], name  # the text
        assert _read(src, cache) == (text, []), name  # the text again, copied anew
        assert where.read_bytes() == good, name
        where.write_bytes(bad)  # the optimizer's way in rebuilds it too
        searched = bar_cache.ensure("ohlcv_csv", src, None, cache)
        assert searched is not None and _key(bar_cache.iter_bars(searched)) == text, name
    # an edited source: the same size and another mtime make the copy stale
    os.utime(src, ns=(1, 1))
    assert bar_copy.valid_copy(cache, src, "ohlcv_csv") is None


def test_a_version_1_copy_directory_is_never_opened_and_goes(tmp_path: Path, bars: list[Bar],
                                                             monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    src = _csv(tmp_path / "btc_1m.csv", bars)
    cache = tmp_path / "cache"
    old = bar_copy.copy_path(cache, src).with_suffix("")
    old.mkdir(parents=True)
    st = src.stat()
    (old / "meta.json").write_text(json.dumps({  # a copy of the old layout, wrong bars
        "version": 1, "source": os.path.realpath(src), "size": st.st_size,
        "mtime_ns": st.st_mtime_ns, "format": "ohlcv_csv", "symbol": "BTCUSDT", "rows": 1}))
    for name in ("open_ts.i64", "ts.i64", "open.f64", "high.f64", "low.f64", "close.f64",
                 "volume.f64"):
        (old / name).write_bytes(bytes(8))
    assert _read(src, cache) == _read(src, None)
    assert not old.exists() and bar_copy.valid_copy(cache, src, "ohlcv_csv") is not None


def test_a_copy_cut_short_while_read_is_an_error_not_fewer_bars(
        tmp_path: Path, bars: list[Bar], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bar_copy, "BLOCK", 1000)
    src = _csv(tmp_path / "btc_1m.csv", bars)
    copy = bar_cache.ensure("ohlcv_csv", src, None, tmp_path / "cache")
    assert copy is not None
    events = bar_cache.iter_bars(copy)
    next(events)
    with open(copy[0].path, "r+b") as fh:
        fh.truncate(copy[0].size - 100)
    with pytest.raises(DataError, match="truncated while being read"):
        list(events)


def test_a_copy_replaced_after_its_check_is_an_error_not_other_bars(tmp_path: Path,
                                                                    bars: list[Bar]):
    """Another process rebuilt the copy (its source changed) between this one's check and
    its reading: this header's offsets are never used on that file."""
    src = _csv(tmp_path / "btc_1m.csv", bars)
    cache = tmp_path / "cache"
    copy = bar_cache.ensure("ohlcv_csv", src, None, cache)
    assert copy is not None
    _csv(src, bars[:3000])
    assert bar_cache.ensure("ohlcv_csv", src, None, cache) is not None  # rebuilt in place
    with pytest.raises(DataError, match="changed since it was checked"):
        list(bar_cache.iter_bars(copy))
    with pytest.raises(DataError, match="changed since it was checked"):
        list(bar_cache.iter_bars(copy, bars[10].ts))


def test_the_command_rebuilds_a_damaged_copy(tmp_path: Path, bars: list[Bar]):
    """``tapedesk backtest`` twice on a CSV whose copy was damaged in between: the same
    result as reading the text, and a good copy again."""
    big = load_bars(SAMPLE_BARS_1M)
    src = _csv(tmp_path / "btc_1m.csv", big + [
        Bar(b.symbol, b.open_ts + 50 * 86_400_000, b.ts + 50 * 86_400_000, b.open, b.high,
            b.low, b.close, b.volume) for b in big])
    _settled(src)  # the rebuilt copy: the same bytes
    assert src.stat().st_size >= bar_copy.MIN_SOURCE_BYTES
    home = tmp_path / "home"

    def run(*extra: str) -> dict:
        out = subprocess.run(["tapedesk", "--data-dir", str(home), "backtest", "--data",
                              str(src), "--strategy", "ema_cross", "--json", *extra],
                             capture_output=True, text=True, timeout=300, check=False)
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
        doc = json.loads(out.stdout)
        doc.pop("run", None)
        return doc

    first = run()
    copy = bar_copy.copy_path(home / "cache" / "bars", src)
    good = copy.read_bytes()
    copy.write_bytes(good[: len(good) // 2])
    assert run() == first and copy.read_bytes() == good
    assert first == run("--no-cache") and first["trades"]


def test_the_same_copy_written_again_meanwhile_is_read(tmp_path: Path, bars: list[Bar]):
    """Two optimizer workers may both write the copy of an unchanged source: a reader
    checked the first and reads the second (the same header, so the same bars)."""
    src = _csv(tmp_path / "btc_1m.csv", bars)
    cache = tmp_path / "cache"
    copy = bar_cache.ensure("ohlcv_csv", src, None, cache)
    assert copy is not None
    where = copy[0].path
    os.link(where, tmp_path / "held")  # the old inode stays taken
    where.unlink()
    again = bar_cache.ensure("ohlcv_csv", src, None, cache)
    assert again is not None and again[0].inode != copy[0].inode
    assert _key(bar_cache.iter_bars(copy)) == _key(bars)


def test_a_file_too_small_to_copy_is_read_without_looking_for_a_copy(
        tmp_path: Path, bars: list[Bar], monkeypatch: pytest.MonkeyPatch):
    """No copy is ever made of a file under MIN_SOURCE_BYTES, so none is looked for (that
    would hash the path, loading OpenSSL: a fixed cost of every short backtest)."""
    src = _csv(tmp_path / "BTCUSDT-1m.csv", bars[:100])
    assert src.stat().st_size < bar_copy.MIN_SOURCE_BYTES
    text, _ = _read(src, None)

    def looked(*_args):
        raise AssertionError("looked for a copy of a small file")

    monkeypatch.setattr(bar_copy, "valid_copy", looked)
    cache = tmp_path / "cache"
    assert _read(src, cache) == (text, []) and len(text) == 100
    assert not cache.exists()  # and none was made
    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)  # large enough: it is looked for
    with pytest.raises(AssertionError, match="small file"):
        _read(src, cache)
