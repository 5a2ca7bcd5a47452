"""``tapedesk backtest --json`` on an adversarial bar file (prices rounded into ties, missing
minutes) read from its binary copy in TAPEDESK_HOME: the copy read as memoryviews gives the
text's result byte for byte, and a damaged copy (cut short, garbled header, a column whose
type no longer says float64) is never read as bars: the run falls back to the text and
prints the same result, no traceback. A bar file with NaN/inf lines is read from the text
with a warning per line (no copy stands for it)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tapedesk.engine.clock import iso
from tapedesk.engine.feeds import bar_copy, load_bars
from tapedesk.engine.feeds.checks import DataError
from tapedesk.engine.feeds.columnar import ColumnsError
from tapedesk.engine.sample_data import SAMPLE_BARS_1M


def _adversarial_csv(path: Path) -> Path:
    """The bundled month, prices rounded to 5.0 (many equal highs/lows: ties for the swing
    detector and the pools), every 97th minute missing, zero-padded past MIN_SOURCE_BYTES."""
    def px(x: float) -> str:
        return f"{round(x / 5.0) * 5.0:014.4f}"

    lines = ["timestamp,open,high,low,close,volume\n"]
    for k, b in enumerate(load_bars(SAMPLE_BARS_1M)):
        if k % 97 != 5:
            lines.append(f"{iso(b.open_ts)},{px(b.open)},{px(max(b.high, b.open, b.close))},"
                         f"{px(min(b.low, b.open, b.close))},{px(b.close)},{b.volume:020.6f}\n")
    path.write_text("".join(lines))
    assert path.stat().st_size >= bar_copy.MIN_SOURCE_BYTES
    return path


def _backtest(home: Path, data: Path, *extra: str) -> tuple[str, str]:
    env = {**os.environ, "TAPEDESK_HOME": str(home)}
    out = subprocess.run(["tapedesk", "backtest", "--data", str(data), "--strategy",
                          "liquidity_sweep", "--json", "--no-progress", *extra],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    return out.stdout, out.stderr


def _copy(home: Path) -> Path:
    (copy,) = (home / "cache" / "bars").glob("*.cols")
    return copy


def _retype(copy: Path, name: str) -> None:
    """The header says column ``name`` holds int64 (same length: sizes still agree)."""
    data = copy.read_bytes()
    at = data.index(f'"name":"{name}","type":"d"'.encode())
    copy.write_bytes(data[:at] + data[at:].replace(b'"type":"d"', b'"type":"q"', 1))


def test_a_damaged_copy_is_never_read_as_bars(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = _adversarial_csv(tmp_path / "ties_gaps_1m.csv")
    first, _ = _backtest(home, data)  # read from the text, copy written
    copy = _copy(home)
    doc = json.loads(first)
    assert doc["trades"], "the file must make the strategy trade"
    again, _ = _backtest(home, data)  # read from the copy (memoryviews)
    assert again == first
    size = copy.stat().st_size
    with open(copy, "r+b") as fh:  # cut short
        fh.truncate(size // 2)
    assert _backtest(home, data)[0] == first
    with open(_copy(home), "r+b") as fh:  # the header garbled
        fh.seek(30)
        fh.write(b"XXXX")
    assert _backtest(home, data)[0] == first
    _retype(_copy(home), "close")  # floats announced as int64: not bars
    assert _backtest(home, data)[0] == first


def test_a_copy_whose_column_types_are_not_the_bar_columns_is_not_valid(tmp_path: Path,
                                                                        monkeypatch) -> None:
    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    src = tmp_path / "bars_1m.csv"
    src.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"2024-01-01 00:{i:02d}:00,{100 + i}.5,{101 + i}.5,{99 + i}.5,{100 + i}.25,1\n"
        for i in range(30)))
    cache = tmp_path / "cache"
    w = bar_copy.CopyWriter(cache, src, "ohlcv_csv")
    w.add(load_bars(src))
    assert w.commit(True) is not None
    assert bar_copy.valid_copy(cache, src, "ohlcv_csv") is not None
    for name in ("open", "high", "low", "close", "volume"):
        w = bar_copy.CopyWriter(cache, src, "ohlcv_csv")
        w.add(load_bars(src))
        w.commit(True)
        _retype(bar_copy.copy_path(cache, src), name)
        assert bar_copy.valid_copy(cache, src, "ohlcv_csv") is None, name


def test_a_copy_cut_short_while_being_read_is_a_data_error(tmp_path: Path, monkeypatch) -> None:
    """Each column block is a memoryview of exactly the bytes read: a copy cut between two
    blocks is a DataError naming the source, never fewer bars."""
    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    monkeypatch.setattr(bar_copy, "BLOCK", 8)
    src = tmp_path / "bars_1m.csv"
    src.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"2024-01-01 00:{i:02d}:00,{100 + i}.5,{101 + i}.5,{99 + i}.5,{100 + i}.25,1\n"
        for i in range(40)))
    cache = tmp_path / "cache"
    w = bar_copy.CopyWriter(cache, src, "ohlcv_csv")
    w.add(load_bars(src))
    table = w.commit(True)
    assert table is not None
    want = [(b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume) for b in load_bars(src)]
    got = [(b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume)
           for b in bar_copy.read_copy(table, "BTCUSDT")]
    assert got == want and all(type(v) is int for r in got for v in r[:2])
    it = bar_copy.read_copy(table, "BTCUSDT")
    assert next(it).open == 100.5
    with open(table.path, "r+b") as fh:
        fh.truncate(table.size - 8 * 20)  # the last column loses its last 20 values
    with pytest.raises(DataError) as exc:
        list(it)
    assert str(src) in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises((ColumnsError, DataError)):
        list(bar_copy.read_copy(table, "BTCUSDT"))


def test_nan_and_inf_lines_are_refused_with_their_line_numbers(tmp_path: Path) -> None:
    rows = ["timestamp,open,high,low,close,volume"]
    for i in range(50):
        px = 100.0 + (i % 7)  # repeating highs: ties
        rows.append(f"2024-01-01 {i // 60:02d}:{i % 60:02d}:00,{px},{px + 1},{px - 1},{px},1")
    rows[10] = "2024-01-01 00:09:00,nan,101,99,100,1"
    rows[20] = "2024-01-01 00:19:00,100,inf,99,100,1"
    rows[30] = "2024-01-01 00:29:00,100,101,99,NaN,1"
    data = tmp_path / "nanish_1m.csv"
    data.write_text("\n".join(rows) + "\n")
    out, err = _backtest(tmp_path / "home", data)
    doc = json.loads(out)
    assert "metrics" in doc
    assert "skipped 3 rows" in err, err
    for line, what in ((11, "open nan"), (21, "high inf"), (31, "close nan")):
        assert f"line {line}: {what} is not a positive finite price" in err, err
    assert not list((tmp_path / "home").rglob("*.cols"))  # too small, and not clean
