"""Bad files, configs and options through the real ``tapedesk`` console script.

What a user sees: one line on stderr naming the file (and line) or the field, exit code 2,
never a traceback; rows that cannot be used are skipped and summed up in one warning line.
"""

from __future__ import annotations

import gzip
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tapedesk.engine.events import Bar
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M

EXE = Path(sys.executable).with_name("tapedesk")
pytestmark = pytest.mark.skipif(not EXE.exists(), reason=f"console script not installed: {EXE}")


def tapedesk(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "cfg"), "XDG_DATA_HOME": str(home / "d"),
           "XDG_STATE_HOME": str(home / "state"), "TAPEDESK_HOME": str(home / "data")}
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=home)


def errors(p: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in p.stderr
    return [ln for ln in p.stderr.splitlines() if ln.strip() and not ln.startswith("warning:")]


def binance_csv(bars: list[Bar]) -> str:
    return "".join(f"{b.open_ts},{b.open},{b.high},{b.low},{b.close},{b.volume},{b.ts},0,1,0,0,0\n"
                   for b in bars)


@pytest.fixture(scope="module")
def bars() -> list[Bar]:
    return load_bars(SAMPLE_BARS_1M)[:600]


def test_truncated_gzip_is_one_line_naming_file_and_line(tmp_path: Path, bars: list[Bar]) -> None:
    data = gzip.compress(binance_csv(bars).encode())
    path = tmp_path / "BTCUSDT-1m.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    p = tapedesk("backtest", "--data", str(path), home=tmp_path)
    assert p.returncode == 2
    (line,) = errors(p)
    assert line.startswith(f"tapedesk: {path}:")
    assert "compressed data is truncated or corrupt" in line
    assert int(line.split(":")[2]) > 1  # the line where the readable part ends


@pytest.mark.parametrize(("content", "what"), [
    (bytes(range(256)) * 8, ":1: binary content, not a text data file"),
    (b"", ": empty file"),
    (b"a,b,c\n1,2,3\n", ":1: unknown CSV header"),
    (b"1,2,3\n", ":1: cannot tell the format of a 3-column headerless CSV"),
    (b'{"date": {"0": 1}}', ": not a freqtrade column JSON"),
    (b"[[1, 2", ":1: not valid JSON"),
])
def test_unreadable_files_are_one_line_and_exit_2(tmp_path: Path, content: bytes,
                                                   what: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    p = tapedesk("backtest", "--data", str(path), home=tmp_path)
    assert p.returncode == 2
    (line,) = errors(p)
    assert line.startswith(f"tapedesk: {path}{what}")


def test_a_directory_is_not_a_data_file(tmp_path: Path) -> None:
    p = tapedesk("backtest", "--data", str(tmp_path), home=tmp_path)
    assert p.returncode == 2
    assert errors(p) == [f"tapedesk: {tmp_path}: is a directory, not a data file"]


def test_insane_rows_are_skipped_and_counted_in_one_warning(tmp_path: Path,
                                                           bars: list[Bar]) -> None:
    lines = binance_csv(bars).splitlines()
    f = lines[9].split(",")
    lines[9] = ",".join([f[0], "NaN", *f[2:]])  # line 10: NaN open
    f = lines[19].split(",")
    lines[19] = ",".join([*f[:2], "1e308", *f[3:]])  # line 20: absurd high
    f = lines[29].split(",")
    lines[29] = ",".join([*f[:4], "-5", *f[5:]])  # line 30: negative close
    f = lines[39].split(",")
    lines[39] = ",".join(["4102444800000", *f[1:6], "4102444859999", *f[7:]])  # 2100
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_text("\n".join(lines) + "\n")
    p = tapedesk("backtest", "--data", str(path), "--json", home=tmp_path)
    assert p.returncode == 0, p.stderr
    warnings = [ln for ln in p.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1
    (w,) = warnings
    assert w.startswith(f"warning: {path}: skipped 4 rows (3 bad value, 1 bad time): line 10: ")
    assert "line 20: high 1e+308" in w and "line 30: close -5.0" in w
    assert "line 40: time 4102444800000 is in the future" in w
    assert "Traceback" not in p.stderr


def test_one_bar_dated_2100_costs_nothing_in_a_headless_replay(tmp_path: Path,
                                                               bars: list[Bar]) -> None:
    """Issue 9: a 41-bar file whose last bar says 2100 took 14 s and wrote 85,468 funding
    rows. The reader now skips that bar (and funding over any long gap is one payment)."""
    lines = binance_csv(bars[:41]).splitlines()
    f = lines[-1].split(",")
    lines[-1] = ",".join(["4102444800000", *f[1:6], "4102444859999", *f[7:]])
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_text("\n".join(lines) + "\n")
    ddir = tmp_path / "desk"
    p = tapedesk("--data-dir", str(ddir), "run", "--headless", "--replay", str(path),
                 "--speed", "0", home=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "line 41: time 4102444800000 is in the future" in p.stderr
    with sqlite3.connect(ddir / "paper.db") as db:
        assert db.execute("SELECT count(*) FROM funding").fetchone()[0] <= 1


def test_a_bad_replay_file_stops_the_desk_before_it_starts(tmp_path: Path,
                                                         bars: list[Bar]) -> None:
    data = gzip.compress(binance_csv(bars).encode())
    path = tmp_path / "BTCUSDT-1m.csv.gz"
    path.write_bytes(data[:-30])
    ddir = tmp_path / "desk"
    p = tapedesk("--data-dir", str(ddir), "run", "--headless", "--replay", str(path),
                 home=tmp_path, timeout=60)
    assert p.returncode == 2
    (line,) = errors(p)
    assert line.startswith(f"tapedesk: {path}:") and "truncated or corrupt" in line
    assert not (ddir / "paper.db").exists()  # nothing journaled


@pytest.mark.parametrize("speed", ["-5", "nan", "inf"])
def test_demo_with_a_bad_speed_is_one_line(tmp_path: Path, speed: str) -> None:
    p = tapedesk("--data-dir", str(tmp_path / "desk"), "demo", "--speed", speed, home=tmp_path)
    assert p.returncode == 2
    (line,) = errors(p)
    assert line.startswith("tapedesk: --speed must be a number >= 0")


@pytest.mark.parametrize(("toml", "expected"), [
    ('[[strategies]]\nname = "ema_crosss"\n',
     "tapedesk: config strategies[0].name: unknown strategy 'ema_crosss'; available: "),
    ('[[strategies]]\nname = "ema_cross"\nparams = { fastt = 3 }\n',
     "tapedesk: config strategies[0].params: ema_cross: unknown parameter(s) fastt; known: "),
    ('[[strategies]]\nname = "ema_cross"\nparams = { fast = "x" }\n',
     "tapedesk: config strategies[0].params: ema_cross: parameter fast='x' is not a whole"),
])
def test_a_config_naming_a_bad_strategy_fails_at_start(tmp_path: Path, bars: list[Bar],
                                                       toml: str, expected: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(toml)
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_text(binance_csv(bars[:100]))
    ddir = tmp_path / "desk"
    p = tapedesk("--config", str(cfg), "--data-dir", str(ddir), "run", "--headless",
                 "--replay", str(path), "--speed", "0", home=tmp_path, timeout=60)
    assert p.returncode == 2
    (line,) = errors(p)
    assert line.startswith(expected)
    assert not (ddir / "paper.db").exists()


def test_param_and_config_share_one_check_and_wording(tmp_path: Path, bars: list[Bar]) -> None:
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_text(binance_csv(bars[:100]))
    p = tapedesk("backtest", "--data", str(path), "--param", "ema_cross.fast=x", home=tmp_path)
    assert p.returncode == 2
    assert errors(p) == ["tapedesk: ema_cross: parameter fast='x' is not a whole number (int)"]
    p = tapedesk("backtest", "--data", str(path), "--param", "fastt=3", home=tmp_path)
    assert p.returncode == 2
    (line,) = errors(p)
    assert line.startswith("tapedesk: --param 'fastt=3': no strategy in this backtest has "
                           "'fastt'; known: ema_cross: fast (int), slow (int)")


def test_a_config_that_is_not_text_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_bytes(b"[risk]\nmax_leverage = \xff\xfe\n")
    p = tapedesk("--config", str(cfg), "backtest", "--data", str(cfg), home=tmp_path)
    assert p.returncode == 2
    assert errors(p) == [f"tapedesk: {cfg}: not UTF-8 text (bad byte at offset 22)"]


@pytest.mark.parametrize(("flag", "value"), [("--fee-bps", "nan"), ("--slippage-bps", "-1"),
                                             ("--initial-balance", "NaN"),
                                             ("--fixed-qty", "inf"), ("--symbol", "a b"),
                                             ("--monte-carlo", "-3")])
def test_bad_backtest_options_are_one_line(tmp_path: Path, bars: list[Bar], flag: str,
                                                  value: str) -> None:
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_text(binance_csv(bars[:100]))
    p = tapedesk("backtest", "--data", str(path), flag, value, home=tmp_path)
    assert p.returncode == 2
    (line,) = errors(p)
    assert line.startswith(f"tapedesk: {flag} ")
