"""Attacks a user makes on the command line: a reversed range, an unknown symbol or
interval, a --data range with a month missing in the middle, an unwritable data dir and a
full disk. Each must be one clear line and an exit code, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.attacks_data.conftest import EXE, bars, ms, tapedesk
from tests.attacks_data.test_transfer import _noisy_month, _path
from tests.market_data.archive_server import ArchiveServer


def _one_line(p: subprocess.CompletedProcess[str]) -> str:
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


def test_reversed_range_is_one_line(tmp_path: Path) -> None:
    p = tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", "2024-06", "--to",
                 "2023-01", home=tmp_path, base="http://127.0.0.1:9")
    assert p.returncode == 2
    assert _one_line(p) == "tapedesk: --to 2023-01 is before --from 2024-06"


def test_unknown_interval_and_bad_symbol_are_one_line(tmp_path: Path) -> None:
    p = tapedesk("data", "download", "--symbol", "BTCUSDT", "--interval", "7m", "--from",
                 "2023-01", home=tmp_path, base="http://127.0.0.1:9")
    assert p.returncode == 2 and "--interval '7m' is not one of" in _one_line(p)
    p = tapedesk("data", "download", "--symbol", "BTC/USDT", "--from", "2023-01",
                 home=tmp_path, base="http://127.0.0.1:9")
    assert p.returncode == 2 and "is not a symbol" in _one_line(p)
    p = tapedesk("backtest", "--data", "binance:BTCUSDT:7m:2023-01", home=tmp_path)
    assert p.returncode == 2 and "interval '7m' is not one of" in p.stderr


def test_unknown_symbol_says_every_month_is_absent(server: ArchiveServer,
                                                   tmp_path: Path) -> None:
    p = tapedesk("data", "download", "--symbol", "NOSUCHUSDT", "--from", "2023-01", "--to",
                 "2023-02", home=tmp_path, base=server.base)  # type: ignore[attr-defined]
    assert p.returncode == 0
    out = p.stdout.splitlines()
    assert "NOSUCHUSDT 1m klines 2023-01: absent: does not exist in the archive (HTTP 404)" in out
    assert out[-1] == "0 stored, 0 already there, 2 not in the archive, 0 failed"
    b = tapedesk("backtest", "--data", "binance:NOSUCHUSDT:1m", home=tmp_path)
    assert b.returncode == 2 and "nothing downloaded for NOSUCHUSDT 1m" in b.stderr


def test_a_month_missing_in_the_middle_is_named_never_a_silent_gap(
        server: ArchiveServer, tmp_path: Path) -> None:
    base = server.base  # type: ignore[attr-defined]
    server.put_month("BTCUSDT", "1m", "2023-01", bars(ms(2023, 1, 31, 20), 240), True)
    server.put_month("BTCUSDT", "1m", "2023-03", bars(ms(2023, 3), 240), True)
    for month in ("2023-01", "2023-03"):
        assert tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", month,
                        home=tmp_path, base=base).returncode == 0
    spec = "binance:BTCUSDT:1m:2023-01..2023-03"
    b = tapedesk("backtest", "--data", spec, "--no-progress", home=tmp_path)
    assert b.returncode == 2
    # argparse's usage block, then the one line that says which month
    assert "not downloaded: 2023-02" in b.stderr.strip().splitlines()[-1]
    assert "--from 2023-02 --to 2023-02" in b.stderr
    # Downloaded and known absent: used, with the hole said in the warning, not silently.
    d = tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", "2023-02",
                 home=tmp_path, base=base)
    assert "2023-02: absent" in d.stdout
    b = tapedesk("backtest", "--data", spec, "--no-progress", home=tmp_path)
    assert b.returncode == 0, b.stderr
    assert "2023-02 not in the archive" in b.stderr + b.stdout
    assert "gaps in the bars (not filled)" in b.stderr + b.stdout


def test_data_dir_that_cannot_be_created_is_one_line(server: ArchiveServer,
                                                     tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a dir")
    env_home = tmp_path / "h"
    env_home.mkdir()
    p = subprocess.run(
        [str(EXE), "--data-dir", str(blocker / "sub"), "data", "download",
         "--symbol", "BTCUSDT", "--from", "2023-01"],
        capture_output=True, text=True, timeout=60, cwd=env_home,
        env={**os.environ, "TAPEDESK_ARCHIVE_URL": server.base,  # type: ignore[attr-defined]
             "XDG_CONFIG_HOME": str(env_home)})
    assert "Traceback" not in p.stderr
    assert p.returncode != 0
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_disk_full_while_downloading_is_one_line_and_nothing_half_stored(
        server: ArchiveServer, tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root and mount for a small tmpfs (a full disk)")
    small = tmp_path / "small"
    small.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        blob = _noisy_month(2023, 1, 20_000)
        server.put(_path("2023-01"), blob)
        p = tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", "2023-01",
                     home=small, base=server.base)  # type: ignore[attr-defined]
        assert p.returncode != 0
        said = [x for x in p.stderr.splitlines() + p.stdout.splitlines()
                if "No space left" in x or "disk" in x.lower()]
        assert said, p.stdout + p.stderr
        assert not list((small / "data").rglob("*.cols"))
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
