"""The backtest's binary copy of a bar file must never stand for other bars than the file
holds now. A corrected data file with the same size put in place with its mtime preserved
(``cp -p``, ``rsync -t``, ``tar x``, ``touch -r``) is such a case: prices fixed digit for
digit keep the size, and the tools keep the mtime."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tapedesk.engine.clock import iso
from tapedesk.engine.events import Bar
from tapedesk.engine.feeds import bar_copy, load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M


def _fixed_width_csv(path: Path, bars: list[Bar], scale: float) -> Path:
    """Prices zero-padded to one width, so two scales give files of the same size."""
    def px(x: float) -> str:
        return f"{x * scale:012.4f}"

    path.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{iso(b.open_ts)},{px(b.open)},{px(b.high)},{px(b.low)},{px(b.close)},"
        f"{b.volume:016.4f}\n" for b in bars))
    return path


def _run(home: Path, src: Path, *extra: str) -> dict:
    out = subprocess.run(["tapedesk", "--data-dir", str(home), "backtest", "--data", str(src),
                          "--strategy", "ema_cross", "--json", *extra],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    doc = json.loads(out.stdout)
    doc.pop("run", None)
    return doc


def _bars() -> list[Bar]:
    big = load_bars(SAMPLE_BARS_1M)
    day = 86_400_000
    return big + [Bar(b.symbol, b.open_ts + 50 * day, b.ts + 50 * day, b.open, b.high, b.low,
                      b.close, b.volume) for b in big]


def test_a_same_size_file_put_in_place_with_its_mtime_is_not_read_from_the_old_copy(
        tmp_path: Path):
    bars = _bars()
    src = _fixed_width_csv(tmp_path / "btc_1m.csv", bars, 1.0)
    assert src.stat().st_size >= bar_copy.MIN_SOURCE_BYTES
    home = tmp_path / "home"
    old = _run(home, src)
    assert bar_copy.copy_path(home / "cache" / "bars", src).exists()
    st = src.stat()
    fixed = _fixed_width_csv(tmp_path / "fixed.csv", bars, 1.25)
    assert fixed.stat().st_size == st.st_size
    os.utime(fixed, ns=(st.st_atime_ns, st.st_mtime_ns))  # cp -p / rsync -t / tar x
    os.replace(fixed, src)
    assert src.stat().st_mtime_ns == st.st_mtime_ns and src.stat().st_size == st.st_size
    truth = _run(home, src, "--no-cache")
    assert truth != old  # the corrected prices move the result
    assert _run(home, src) == truth


def test_a_file_rewritten_in_place_with_its_mtime_restored_is_not_read_from_the_old_copy(
        tmp_path: Path, monkeypatch):
    """The same in place (one inode): only the change time tells."""
    from tapedesk.engine.feeds.files import iter_events

    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    bars = load_bars(SAMPLE_BARS_1M)[:3000]
    src = _fixed_width_csv(tmp_path / "btc_1m.csv", bars, 1.0)
    cache = tmp_path / "cache"

    def closes() -> list[float]:
        return [b.close for b in iter_events(src, None, None, None, lambda _: None,
                                             "ohlcv_csv", cache)]

    first = closes()
    assert bar_copy.valid_copy(cache, src, "ohlcv_csv") is not None
    st = src.stat()
    text = _fixed_width_csv(tmp_path / "other.csv", bars, 2.0).read_bytes()
    with open(src, "r+b") as fh:  # in place: the same inode
        fh.write(text)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert src.stat().st_ino == st.st_ino and src.stat().st_size == st.st_size
    assert bar_copy.valid_copy(cache, src, "ohlcv_csv") is None
    truth = [b.close for b in iter_events(src, None, None, None, lambda _: None, "ohlcv_csv")]
    assert truth != first and closes() == truth


def test_a_csv_rewritten_within_one_timestamp_tick_is_not_read_from_the_old_copy(
        tmp_path: Path, monkeypatch):
    """A filesystem whose clock ticks coarsely (1-2 s on FAT/SMB, a few ms elsewhere): a
    file rewritten in the same tick as it was copied keeps size, mtime, ctime and inode.
    Simulated by freezing what ``stat`` says of the source."""
    from tapedesk.engine.feeds.files import iter_events

    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    bars = load_bars(SAMPLE_BARS_1M)[:3000]
    src = _fixed_width_csv(tmp_path / "btc_1m.csv", bars, 1.0)
    frozen = os.stat(src)
    real_stat = os.stat

    def coarse_stat(path, *a, **kw):
        return frozen if os.fspath(path) == os.fspath(src) else real_stat(path, *a, **kw)

    monkeypatch.setattr(bar_copy.os, "stat", coarse_stat)
    cache = tmp_path / "cache"

    def closes() -> list[float]:
        return [b.close for b in iter_events(src, None, None, None, lambda _: None,
                                             "ohlcv_csv", cache)]

    first = closes()
    assert bar_copy.valid_copy(cache, src, "ohlcv_csv") is not None
    text = _fixed_width_csv(tmp_path / "other.csv", bars, 2.0).read_bytes()
    with open(src, "r+b") as fh:  # the same tick: stat cannot tell
        fh.write(text)
    assert closes() != first
    assert bar_copy.valid_copy(cache, src, "ohlcv_csv") is not None  # copied anew, then used
    assert closes() == [b.close for b in iter_events(src, None, None, None, lambda _: None,
                                                     "ohlcv_csv")]
