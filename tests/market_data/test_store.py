"""The archive CSV quirks and the stored format: header or not, ms or µs, gaps measured,
a damaged store file is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from tapedesk.engine.events import Bar
from tapedesk.engine.feeds.checks import DataError
from tapedesk.engine.feeds.columnar import ColumnsError as StoreError
from tapedesk.engine.feeds.columnar import read_table
from tapedesk.engine.market_data.parse import funding_rows, gaps, kline_rows
from tapedesk.engine.market_data.selection import resolve, selection_events
from tapedesk.engine.market_data.store import market_root, month_path, save_month

from tests.market_data.archive_server import kline_csv


def test_header_or_not_and_ms_or_us_give_the_same_rows(sample_bars: list[Bar]) -> None:
    bars = sample_bars[:500]
    forms = [kline_rows(kline_csv(bars, header=h, micros=us)) for h in (True, False)
             for us in (False, True)]
    assert all(f.skipped == 0 for f in forms)
    assert forms[0].rows == forms[1].rows == forms[2].rows == forms[3].rows
    assert forms[0].rows[0] == (bars[0].open_ts, bars[0].open, bars[0].high, bars[0].low,
                                bars[0].close, bars[0].volume)


def test_bad_rows_are_counted_and_funding_header_is_optional() -> None:
    p = kline_rows("1640995200000,1,2,0.5,1.5,3,1640995259999,0,0,0,0,0\n"
                   "1640995260000,nan,2,0.5,1.5,3,1640995319999,0,0,0,0,0\n")
    assert len(p.rows) == 1 and p.skipped == 1 and p.first_problem.startswith("line 2:")
    with_header = funding_rows("calc_time,funding_interval_hours,last_funding_rate\n"
                               "1640995200004,8,0.0001\n")
    assert with_header.rows == funding_rows("1640995200004,8,0.0001\n").rows == [
        (1640995200004, 8, 0.0001)]


def test_gaps_are_measured_not_filled() -> None:
    assert gaps([0, 60, 120, 420, 480, 600], 60) == [(180, 4), (540, 1)]


def test_a_damaged_store_file_is_a_data_error_naming_it(sample_bars: list[Bar],
                                                        tmp_path: Path) -> None:
    root = market_root(tmp_path)
    path = month_path(root, "klines", "BTCUSDT", "1m", (2022, 1))
    rows = [(b.open_ts, b.open, b.high, b.low, b.close, b.volume) for b in sample_bars[100:400]]
    save_month(path, rows, "klines", "1m", {"complete": True})
    assert read_table(path)[0]["close"].tolist() == [r[4] for r in rows]
    sel = resolve("binance:BTCUSDT:1m:2022-01", data=tmp_path)
    assert len([e for e in selection_events(sel)]) == 300
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(StoreError):
        read_table(path)
    with pytest.raises(DataError, match=r"BTCUSDT-1m-2022-01\.cols: .*truncated or corrupt"):
        list(selection_events(sel))
