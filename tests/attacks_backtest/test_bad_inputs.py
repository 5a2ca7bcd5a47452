"""Bad input to ``tapedesk backtest``: one line saying what is wrong (exit 2), never a
traceback, and never a silently wrong result."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from .bars import T0, backtest_json, one_line_error, tapedesk, write_bars

CLOSES = [1000.0 + 3 * math.sin(i / 3) for i in range(40)]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bars(tmp_path_factory.mktemp("good") / "good.csv", CLOSES)


@pytest.mark.parametrize(("args", "says"), [
    (["--param", "fast=x"], "fast"),
    (["--param", "reverse=maybe"], "reverse"),
    (["--param", "stop_pct=nan"], "stop_pct"),
    (["--param", "stop_pct=-1"], "stop_pct"),
    (["--param", "fast=30", "--param", "slow=10"], "fast"),
    (["--param", "nosuch=1"], "nosuch"),
    (["--param", "fast"], "name=value"),
    (["--strategy", "nosuch"], "nosuch"),
    (["--fee-bps", "-1"], "--fee-bps"),
    (["--fee-bps", "nan"], "--fee-bps"),
    (["--slippage-bps", "-0.5"], "--slippage-bps"),
    (["--funding-bps", "inf"], "--funding-bps"),
    (["--fixed-qty", "0"], "--fixed-qty"),
    (["--fixed-qty", "nan"], "--fixed-qty"),
    (["--initial-balance", "nan"], "--initial-balance"),
    (["--initial-balance", "0"], "--initial-balance"),
    (["--initial-balance", "1e400"], "--initial-balance"),  # was run: "initial balance inf"
    (["--initial-balance", "1e30"], "--initial-balance"),  # floats lose the cents: DD 0.00
    (["--from", "garbage"], "garbage"),
    (["--from", "2023-11-15", "--to", "2023-11-14"], "--from"),
    (["--from", "2023-11-14 00:10", "--to", "2023-11-14 00:10"], "--from"),
    (["--monte-carlo", "-1"], "--monte-carlo"),
    (["--report", "x.txt"], "--report"),
    # bars only: quote fills would silently be next-open fills labelled "fills: quote"
    (["--fill-at", "quote"], "--fill-at quote"),
])
def test_a_bad_option_is_one_line_naming_it(good: Path, args: list[str], says: str) -> None:
    line = one_line_error(tapedesk("backtest", "--data", str(good), *args))
    assert says in line, line


def test_a_comma_list_of_strategies_works_as_documented(good: Path) -> None:
    """docs/backtesting.md: "--strategy repeats (or takes a comma list, or all)"."""
    doc = backtest_json("--data", str(good), "--strategy", "ema_cross,grid")
    assert sorted(doc["per_strategy"]) == ["ema_cross", "grid"]


def _file(tmp: Path, name: str, text: str | bytes) -> Path:
    p = tmp / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def test_unreadable_files_are_one_line_naming_the_file(tmp_path: Path, good: Path) -> None:
    lines = good.read_text().splitlines()
    whole = gzip.compress(("\n".join(lines * 1) + "\n").encode() * 1)
    big = "\n".join([lines[0]] + [f"{T0 + i * 60_000},1000,1001,999,1000,1"
                                  for i in range(30_000)]) + "\n"
    packed = gzip.compress(big.encode())
    cases = {
        "empty.csv": b"",
        "header.csv": lines[0] + "\n",
        "cut.csv.gz": packed[: len(packed) // 2],
        "binary.csv": bytes(range(256)) * 4,
        "short.csv.gz": whole[:10],
    }
    for name, text in cases.items():
        path = _file(tmp_path, name, text)
        line = one_line_error(tapedesk("backtest", "--data", str(path)))
        assert name in line, line
    assert "truncated" in one_line_error(tapedesk("backtest", "--data",
                                                  str(tmp_path / "cut.csv.gz")))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "no such" in one_line_error(tapedesk("backtest", "--data", str(tmp_path / "x.csv")))
    assert "directory" in one_line_error(tapedesk("backtest", "--data", str(tmp_path)))


def test_duplicate_bars_are_dropped_and_said_the_result_is_the_clean_files(
        tmp_path: Path, good: Path) -> None:
    lines = good.read_text().splitlines()
    dup = _file(tmp_path, "dup.csv", "\n".join([lines[0]] + [ln for ln in lines[1:]
                                                              for _ in (0, 1)]) + "\n")
    args = ("--param", "fast=2", "--param", "slow=3", "--fixed-qty", "1", "--no-risk")
    proc = tapedesk("backtest", "--data", str(dup), *args, "--json")
    assert proc.returncode == 0, proc.stderr
    assert f"skipped {len(lines) - 1} rows" in proc.stderr
    clean = backtest_json("--data", str(good), *args)
    got = json.loads(proc.stdout)
    assert got["trades"] and got["metrics"] == clean["metrics"]
    assert got["trades"] == clean["trades"]


def test_a_nan_row_is_skipped_with_its_line_and_no_nan_reaches_the_result(
        tmp_path: Path, good: Path) -> None:
    lines = good.read_text().splitlines()
    lines[6] = lines[6].split(",")[0] + ",nan,nan,nan,nan,10"
    path = _file(tmp_path, "nan.csv", "\n".join(lines) + "\n")
    proc = tapedesk("backtest", "--data", str(path), "--param", "fast=2", "--param", "slow=3",
                    "--fixed-qty", "1", "--no-risk", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "skipped 1 row" in proc.stderr and "line 7" in proc.stderr
    assert "NaN" not in proc.stdout and "Infinity" not in proc.stdout
    assert json.loads(proc.stdout)["metrics"]["total_bars"] == len(lines) - 2


def test_a_newest_first_file_is_not_a_one_bar_backtest(tmp_path: Path, good: Path) -> None:
    """Some sites publish newest-first CSVs. Dropping all rows but the first as "out of
    order" and printing a full metrics table for the one bar left (exit 0) is a wrong result
    with a warning; the file must be refused in one line or read in time order."""
    lines = good.read_text().splitlines()
    path = _file(tmp_path, "newest_first.csv", "\n".join([lines[0], *lines[1:][::-1]]) + "\n")
    proc = tapedesk("backtest", "--data", str(path), "--json")
    if proc.returncode == 0:
        assert json.loads(proc.stdout)["metrics"]["total_bars"] == len(lines) - 1
    else:
        assert "order" in one_line_error(proc)


def test_a_strategy_named_twice_runs_once(good: Path) -> None:
    """Two copies of one strategy fought over one position: every entry of the second was
    refused ("REFUSED ENTRIES: 169 (one_position_per_symbol 169)" on the bundled month)."""
    args = ("--data", str(good), "--param", "fast=2", "--param", "slow=3", "--fixed-qty", "1",
            "--no-risk")
    once = backtest_json(*args)
    twice = backtest_json(*args, "--strategy", "ema_cross", "--strategy", "ema_cross")
    assert once["trades"]
    assert twice["refused_entries"] == once["refused_entries"] == {}, twice["labels"]
    assert twice["metrics"] == once["metrics"]
