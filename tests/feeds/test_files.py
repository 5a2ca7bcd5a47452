"""The file readers, specified against the real data files and Binance's published layouts."""

from __future__ import annotations

import gzip
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tapedesk.engine.events import Bar, Depth, Kind, MarkPrice, Quote, Trade
from tapedesk.engine.feeds import detect_format, iter_events, load_bars
from tapedesk.engine.feeds.files import symbol_from_name, to_ms
from tapedesk.engine.sample_data import SAMPLE_BARS_1M, SAMPLE_STREAM

TESTS_DATA = Path(__file__).resolve().parents[1] / "data"
T0 = 1_704_067_200_000  # 2024-01-01 UTC: event times must look like market data


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


# Lines laid out exactly as data.binance.vision publishes klines (12 columns).
BINANCE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore\n"
)
BINANCE_ROWS_MS = (
    "1704067200000,42314.00,42335.80,42289.60,42331.90,289.641,1704067259999,12254148.01800,"
    "3124,169.203,7158686.11650,0\n"
    "1704067260000,42331.90,42353.10,42331.80,42350.40,246.563,1704067319999,10440289.26400,"
    "2540,180.440,7640507.70210,0\n"
    "1704067320000,42350.40,42370.80,42349.60,42360.30,179.194,1704067379999,7591765.59560,"
    "2222,101.216,4288230.66230,0\n"
)
# Spot files from 2025 carry microsecond open/close times.
BINANCE_ROWS_US = (
    "1735689600000000,93576.00000000,93610.93000000,93537.50000000,93610.93000000,8.21827000,"
    "1735689659999999,768978.60958800,1737,3.99036000,373358.36284000,0\n"
    "1735689660000000,93610.93000000,93670.00000000,93610.93000000,93658.99000000,10.50452000,"
    "1735689719999999,983839.53648800,1919,6.06781000,568312.25012560,0\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


class Warnings(list):
    def __call__(self, message: str) -> None:
        self.append(message)


# -- klines ---------------------------------------------------------------------------------

def test_reads_the_shipped_1m_sample_with_its_documented_span_and_prices() -> None:
    bars = load_bars(SAMPLE_BARS_1M)
    assert len(bars) == 45_031
    first, last = bars[0], bars[-1]
    assert first.open_ts == ms("2021-12-31T23:01:00")
    assert first.ts == first.open_ts + 60_000 - 1  # close time, as Binance's close_time
    assert (first.open, first.high, first.low, first.close) == (46319.0, 46385.0, 46319.0, 46377.0)
    assert first.volume == pytest.approx(2300413.7295)
    assert last.open_ts == ms("2022-02-01T05:31:00")
    assert (last.open, last.high, last.low, last.close) == (38525.0, 38546.0, 38525.0, 38544.0)
    assert all(b.symbol == "BTCUSDT" for b in bars[:10])  # 'btc-perp' in the name
    assert all(b.ts - a.ts == 60_000 for a, b in itertools.pairwise(bars))


def test_gzipped_and_plain_copies_give_identical_bars(tmp_path: Path) -> None:
    csv_path = tmp_path / "nautilus_btc-perp-20211231-20220201_1m.csv"
    csv_path.write_bytes(gzip.decompress(SAMPLE_BARS_1M.read_bytes()))
    plain = load_bars(csv_path)
    packed = load_bars(SAMPLE_BARS_1M)
    assert [(b.ts, b.open, b.close, b.volume) for b in plain] == [
        (b.ts, b.open, b.close, b.volume) for b in packed
    ]


def test_gzip_is_detected_by_content_not_by_name(tmp_path: Path) -> None:
    raw = write(tmp_path / "BTCUSDT-1m-2024-01-01.csv", BINANCE_HEADER + BINANCE_ROWS_MS)
    disguised = tmp_path / "BTCUSDT-1m-2024-01-01.dat"
    disguised.write_bytes(gzip.compress(raw.read_bytes()))
    assert detect_format(disguised) == "binance_csv"
    assert [b.close for b in load_bars(disguised)] == [b.close for b in load_bars(raw)]


def test_reads_ninjabot_columns_in_its_own_order_and_skips_duplicate_hours() -> None:
    path = TESTS_DATA / "ninjabot_btc-1h.csv"
    warnings = Warnings()
    bars = load_bars(path, warn=warnings)
    assert detect_format(path) == "ninjabot_csv"
    # 4,314 rows of which 5 repeat an hour already read.
    assert len(bars) == 4_309
    assert len(warnings) == 1  # one summary line for the whole file
    assert warnings[0].startswith(f"{path}: skipped 5 rows (5 out of order): line 501: ")
    first = bars[0]
    # Row 1: 1605571200,16713.08,16806.09(close),16683.63(low),16830.00(high),2861.4,51506
    assert first.open_ts == ms("2020-11-17T00:00:00")
    assert (first.open, first.high, first.low, first.close) == (16713.08, 16830.0, 16683.63,
                                                               16806.09)
    assert first.ts == first.open_ts + 3_600_000 - 1  # 1h inferred from the data
    assert bars[-1].open_ts == ms("2021-05-16T00:00:00")
    assert all(b.high >= max(b.open, b.close) and b.low <= min(b.open, b.close) for b in bars)
    assert bars[0].symbol == "BTCUSDT"
    assert load_bars(TESTS_DATA / "ninjabot_eth-1h.csv")[0].symbol == "ETHUSDT"


def test_reads_freqtrade_column_json_5m() -> None:
    path = TESTS_DATA / "freqtrade_orderflow_candles_5m.json"
    bars = load_bars(path)
    assert detect_format(path) == "freqtrade_json"
    assert len(bars) == 10_999
    assert bars[0].open_ts == 1672677900000 == ms("2023-01-02T16:45:00")
    assert bars[-1].open_ts == ms("2023-02-09T21:15:00")
    assert bars[0].ts == bars[0].open_ts + 300_000 - 1
    assert (bars[0].open, bars[0].close) == (16727.3, 16726.1)


def test_reads_binance_kline_csv_with_and_without_header(tmp_path: Path) -> None:
    headed = write(tmp_path / "BTCUSDT-1m-2024-01-01.csv", BINANCE_HEADER + BINANCE_ROWS_MS)
    bare = write(tmp_path / "ETHUSDT-1m-2024-01-01.csv", BINANCE_ROWS_MS)
    for path in (headed, bare):
        assert detect_format(path) == "binance_csv"
        bars = load_bars(path)
        assert len(bars) == 3
        assert bars[0].open_ts == 1704067200000 and bars[0].ts == 1704067259999
        assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close) == (
            42314.0, 42335.8, 42289.6, 42331.9)
        assert bars[2].volume == pytest.approx(179.194)
    assert load_bars(headed)[0].symbol == "BTCUSDT"
    assert load_bars(bare)[0].symbol == "ETHUSDT"


def test_microsecond_timestamps_are_recognised_and_converted_to_ms(tmp_path: Path) -> None:
    path = write(tmp_path / "BTCUSDT-1m-2025-01-01.csv", BINANCE_ROWS_US)
    bars = load_bars(path)
    assert [b.open_ts for b in bars] == [1735689600000, 1735689660000]
    assert [b.ts for b in bars] == [1735689659999, 1735689719999]
    assert to_ms(1735689600) == to_ms(1735689600000) == to_ms(1735689600000000) == 1735689600000
    assert to_ms(1735689600000000000) == 1735689600000


def test_reads_rest_klines_json_array_of_arrays(tmp_path: Path) -> None:
    rows = [line.split(",") for line in BINANCE_ROWS_MS.splitlines()]
    data = [[int(r[0]), *r[1:6], int(r[6]), r[7], int(r[8]), r[9], r[10], r[11]] for r in rows]
    path = write(tmp_path / "klines.json", json.dumps(data))
    assert detect_format(path) == "binance_json"
    bars = load_bars(path, symbol="solusdt")
    assert [b.ts for b in bars] == [1704067259999, 1704067319999, 1704067379999]
    assert bars[1].close == 42350.4
    assert bars[0].symbol == "SOLUSDT"  # the argument, since the data has no symbol


def test_malformed_lines_are_skipped_with_a_warning_naming_file_and_line(tmp_path: Path) -> None:
    lines = BINANCE_ROWS_MS.splitlines()
    text = "\n".join([lines[0], "1704067260000,42331.90,oops", lines[1], "garbage", lines[2]])
    path = write(tmp_path / "BTCUSDT-1m.csv", text + "\n")
    warnings = Warnings()
    bars = load_bars(path, warn=warnings)
    assert len(bars) == 3
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{path}: skipped 2 rows (2 unreadable): line 2: ")
    assert "; line 4: 1 columns, expected 12" in warnings[0]


def test_malformed_line_goes_to_logging_when_no_warn_callable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    head = "timestamp,open,high,low,close,volume\n"
    good = "2022-01-01 00:00:00.000000,1,2,0.5,1.5,10\n2022-01-01 00:01:00.000000,1,2,0.5,1.5,10\n"
    path = write(tmp_path / "x.csv", head + good + "2022-01-01 00:02:00,1,two,0.5,1.5,10\n")
    with caplog.at_level("WARNING"):
        bars = load_bars(path)
    assert len(bars) == 2
    assert f"{path}: skipped 1 row (1 unreadable): line 4: " in caplog.text


def test_start_and_end_filter_on_event_time_half_open() -> None:
    start, end = ms("2022-01-10T00:00:00"), ms("2022-01-11T00:00:00")
    bars = load_bars(SAMPLE_BARS_1M, start_ms=start, end_ms=end)
    assert len(bars) == 1440  # one whole UTC day of 1m bars
    assert bars[0].open_ts == start and bars[-1].ts == end - 1


def test_symbol_resolution_order() -> None:
    assert symbol_from_name("BTCUSDT-1m-2024-01.csv") == "BTCUSDT"
    assert symbol_from_name("BTC_USDT-5m-futures.json") == "BTCUSDT"
    assert symbol_from_name("hftbacktest_usdm_ethusdt_20240808.gz") == "ETHUSDT"
    assert symbol_from_name("btc-perp-20211231-20220201_1m.csv.gz") == "BTCUSDT"
    assert symbol_from_name("candles.json") is None


def test_unknown_format_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match=r"notes\.csv"):
        detect_format(path)


# -- websocket captures ---------------------------------------------------------------------

def test_reads_the_usdm_stream_capture_message_by_message() -> None:
    events = list(iter_events(SAMPLE_STREAM))
    kinds = {k: sum(1 for e in events if e.kind is k) for k in Kind}
    assert len(events) == 93_954
    assert kinds[Kind.TRADE] == 21_313
    assert kinds[Kind.QUOTE] == 66_089
    assert kinds[Kind.DEPTH] == 6_551 + 1
    assert sum(1 for e in events if isinstance(e, Depth) and e.is_snapshot) == 1
    assert all(b.ts >= a.ts for a, b in itertools.pairwise(events))
    assert {e.symbol for e in events} == {"BTCUSDT"}
    first_quote = next(e for e in events if isinstance(e, Quote))
    assert (first_quote.ts, first_quote.bid, first_quote.ask) == (1723161256313, 61800.2, 61800.3)
    assert (first_quote.bid_qty, first_quote.ask_qty) == (2.507, 2.510)
    first_trade = next(e for e in events if isinstance(e, Trade))
    assert (first_trade.ts, first_trade.price, first_trade.qty) == (1723161256322, 61800.3, 0.006)
    assert first_trade.buyer_is_maker is False
    assert events[0].ts == 1723161256299 and events[-1].ts == 1723161601105


def test_reads_jsonl_with_every_supported_message_kind(tmp_path: Path) -> None:
    msgs = [
        {"stream": "btcusdt@markPrice", "data": {"e": "markPriceUpdate", "E": T0 + 1000, "s": "BTCUSDT",
                                                 "p": "60000.5", "i": "60001", "P": "60000",
                                                 "r": "0.0001", "T": T0 + 28_800_000}},
        {"e": "aggTrade", "E": T0 + 1001, "a": 5, "s": "BTCUSDT", "p": "60001.0", "q": "0.5",
         "f": 1, "l": 3, "T": T0 + 1001, "m": True},
        {"e": "kline", "E": T0 + 1002, "s": "BTCUSDT",
         "k": {"t": T0, "T": T0 + 59_999, "s": "BTCUSDT", "i": "1m", "o": "1", "c": "2", "h": "3",
               "l": "0.5", "v": "10", "x": False}},
        {"e": "kline", "E": T0 + 60_000, "s": "BTCUSDT",
         "k": {"t": T0, "T": T0 + 59_999, "s": "BTCUSDT", "i": "1m", "o": "1", "c": "2", "h": "3",
               "l": "0.5", "v": "10", "x": True}},
        {"result": None, "id": 1},
        {"e": "forceOrder", "E": T0 + 60_001},
        {"e": "bookTicker", "E": T0 + 60_002, "u": 1, "s": "BTCUSDT", "b": "1.0", "B": "1",
         "a": "1.1", "A": "2"},
    ]
    lines = [json.dumps(m) for m in msgs]
    lines.insert(2, '{"e": "aggTrade", "s": "BTCUSDT"')  # truncated line
    path = write(tmp_path / "live.jsonl", "\n".join(lines) + "\n")
    warnings = Warnings()
    events = list(iter_events(path, warn=warnings))
    assert [type(e) for e in events] == [MarkPrice, Trade, Bar, Quote]
    mark, trade, bar, _quote = events
    assert (mark.mark, mark.funding_rate, mark.next_funding_ts) == (60000.5, 0.0001, T0 + 28_800_000)
    assert trade.buyer_is_maker is True
    assert (bar.open_ts, bar.ts, bar.high, bar.low) == (T0, T0 + 59_999, 3.0, 0.5)
    (warning,) = warnings  # one summary line: the truncated line and the unsupported kind
    assert warning.startswith(f"{path}: skipped 2 rows (")
    assert "line 3: not JSON" in warning and "line 7: unsupported event type 'forceOrder'" in warning
    assert [b.ts for b in load_bars(path, warn=Warnings())] == [T0 + 59_999]


def test_out_of_order_exchange_times_in_a_capture_are_raised_to_stay_monotonic(
    tmp_path: Path,
) -> None:
    quote = '{"stream":"x@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"1",'\
            '"B":"1","a":"2","A":"1","T":%d,"E":%d}}'
    times = [T0 + 100, T0 + 150, T0 + 120, T0 + 160]
    text = "\n".join(f"{i} " + quote % (t, t) for i, t in enumerate(times, 1))
    path = tmp_path / "cap.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert [e.ts for e in iter_events(path)] == [T0 + 100, T0 + 150, T0 + 150, T0 + 160]


def test_fast_bar_loader_agrees_with_the_streaming_reader_on_the_sample() -> None:
    def key(b: Bar) -> tuple:
        return (b.symbol, b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume)

    fast = load_bars(SAMPLE_BARS_1M)
    streamed = list(iter_events(SAMPLE_BARS_1M))
    assert list(map(key, fast)) == list(map(key, streamed))


def test_reads_a_binance_vision_zip_directly(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "BTCUSDT-1m-2024-01-01.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("BTCUSDT-1m-2024-01-01.csv", BINANCE_HEADER + BINANCE_ROWS_MS)
    assert detect_format(path) == "binance_csv"
    assert [b.ts for b in load_bars(path)] == [1704067259999, 1704067319999, 1704067379999]
    assert [b.close for b in iter_events(path)] == [42331.9, 42350.4, 42360.3]
