"""Every data reader, fed hypothesis-made files: events that make sense or one DataError.

For each layout (Binance kline CSV with/without header, in ms or µs; REST kline JSON;
freqtrade column JSON; headed OHLCV CSV with ISO or epoch times; ninjabot CSV; the raw
stream capture with and without receive stamps), plain, gzipped or zipped (and cut short),
rows are built from sane
values and then some fields are swapped for hostile ones (NaN, inf, 1e308, negatives, huge
integers, dates in 1900/2100, lists, control characters, invalid UTF-8). The properties:

- reading ends in a list of events or a ``DataError`` — no other exception, ever;
- a DataError's message is one line and starts with the file's path;
- every event that comes out is sane: finite positive prices below 1e10, non-negative
  sizes, a time between 2009 and next week, never going backwards;
- skipped rows reach ``warn`` as at most ONE line per pass over the file.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tapedesk.engine.events import Bar, Depth, MarkPrice, Quote, Trade
from tapedesk.engine.feeds import DataError, iter_events, load_bars
from tapedesk.engine.feeds.checks import MAX_PRICE, MAX_SIZE, MIN_TS_MS, max_ts_ms

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

T0 = 1_704_067_200_000  # 2024-01-01
HOSTILE = st.sampled_from([
    "NaN", "nan", "inf", "-inf", "Infinity", "1e308", "-1e308", "1e400", "-5", "0", "-0", "",
    " ", "abc", "1e-320", "99999999999999999999999999", "0x1A", "1_000", "١٢٣", "\x00", "\ufffd",
    "[1, 2]", "null", "true", '"', ",", "2100-01-01 00:00:00", "1900-01-01", "-1",
])
HOSTILE_JSON = st.one_of(
    HOSTILE, st.sampled_from([None, True, [], {}, [1, 2], {"a": 1}, float("1e308"), -1, 0]),
    st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True),
)


@st.composite
def bar_values(draw: st.DrawFn) -> list[object]:
    """[open_ms, open, high, low, close, volume] for a plausible bar, or with hostile fields."""
    base = draw(st.floats(min_value=0.0001, max_value=1e6))
    lo, hi = base, base * draw(st.floats(min_value=1.0, max_value=1.1))
    row: list[object] = [0, repr(base), repr(hi), repr(lo), repr((lo + hi) / 2),
                         repr(draw(st.floats(min_value=0, max_value=1e9)))]
    for i in draw(st.sets(st.integers(0, 5), max_size=3)):
        row[i] = draw(HOSTILE_JSON if draw(st.booleans()) else HOSTILE)
    return row


def _stamp(i: int, step: int, jitter: int) -> int:
    return T0 + i * step + jitter


@st.composite
def bar_files(draw: st.DrawFn) -> tuple[str, bytes]:
    layout = draw(st.sampled_from(["binance_csv", "binance_csv_header", "binance_csv_us",
                                   "binance_json", "freqtrade_json", "ohlcv_iso", "ohlcv_epoch",
                                   "ninjabot_csv"]))
    n = draw(st.integers(1, 25))
    step = 60_000
    rows = []
    for i in range(n):
        v = draw(bar_values())
        jitter = draw(st.sampled_from([0, 0, 0, 0, -60_000, 10**15, -T0, 86_400_000 * 365 * 80]))
        if v[0] == 0:
            v[0] = _stamp(i, step, jitter)
        rows.append(v)
    name = {"binance_json": "k.json", "freqtrade_json": "ft.json"}.get(layout, "BTCUSDT-1m.csv")
    if layout.startswith("binance_csv"):
        mult = 1000 if layout == "binance_csv_us" else 1
        lines = [",".join(str(x) for x in (
            _num(r[0], mult), r[1], r[2], r[3], r[4], r[5], _num(r[0], mult, step - 1),
            "0", "10", "0", "0", "0")) for r in rows]
        if layout == "binance_csv_header":
            lines.insert(0, "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                            "taker_buy_volume,taker_buy_quote_volume,ignore")
        text = "\n".join(lines) + "\n"
    elif layout == "binance_json":
        text = json.dumps([[r[0], r[1], r[2], r[3], r[4], r[5], _num(r[0], 1, step - 1)]
                           for r in rows])
    elif layout == "freqtrade_json":
        cols = ("date", "open", "high", "low", "close", "volume")
        doc = {c: {str(i): r[j] for i, r in enumerate(rows)} for j, c in enumerate(cols)}
        for c in draw(st.sets(st.sampled_from(cols), max_size=2)):  # ragged columns
            doc[c].pop(str(draw(st.integers(0, n - 1))), None)
        text = json.dumps(doc)
    elif layout.startswith("ohlcv"):
        def when(x: object) -> object:
            if layout == "ohlcv_epoch" or not isinstance(x, int):
                return x
            from datetime import UTC, datetime

            try:
                return datetime.fromtimestamp(x / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            except (ValueError, OverflowError, OSError):
                return x
        text = "timestamp,open,high,low,close,volume\n" + "\n".join(
            ",".join(str(x) for x in (when(r[0]), *r[1:])) for r in rows) + "\n"
    else:  # ninjabot: time(s), open, close, low, high, volume, trades
        text = "\n".join(",".join(str(x) for x in (
            _num(r[0], 0.001), r[1], r[4], r[3], r[2], r[5], 7)) for r in rows) + "\n"
    return name, _finish(draw, text.encode("utf-8", "surrogatepass"))


def _num(x: object, mult: float, add: int = 0) -> object:
    if isinstance(x, int) and not isinstance(x, bool):
        return int((x + add) * mult)
    return x


def _finish(draw: st.DrawFn, raw: bytes) -> bytes:
    """Optionally corrupt bytes, gzip, or truncate (the gzip or the text)."""
    how = draw(st.sampled_from(["plain", "plain", "gzip", "gzip", "gzip_cut", "cut", "bytes",
                                "zip", "zip_two", "zip_cut"]))
    if how.startswith("zip"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("data.csv", raw)
            if how == "zip_two":
                zf.writestr("more.csv", raw)
        z = buf.getvalue()
        return z[: draw(st.integers(4, len(z) - 1))] if how == "zip_cut" else z
    if how == "bytes" and raw:
        b = bytearray(raw)
        for _ in range(draw(st.integers(1, 4))):
            b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
        return bytes(b)
    if how == "cut":
        return raw[: draw(st.integers(0, len(raw)))]
    if how.startswith("gzip"):
        z = gzip.compress(raw)
        return z[: draw(st.integers(10, len(z) - 1))] if how == "gzip_cut" else z
    return raw


@st.composite
def capture_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A stream capture (``<local_ns> <json>`` or bare JSON lines) with hostile fields."""
    stamped = draw(st.booleans())
    lines = []
    for i in range(draw(st.integers(1, 25))):
        t = T0 + i * 100
        kind = draw(st.sampled_from(["trade", "aggTrade", "bookTicker", "depthUpdate",
                                     "markPriceUpdate", "kline", "snapshot", "junk"]))
        if kind in ("trade", "aggTrade"):
            msg: dict = {"e": kind, "E": t, "s": "BTCUSDT", "p": "60000.1", "q": "0.5", "m": True}
        elif kind == "bookTicker":
            msg = {"e": kind, "E": t, "T": t, "s": "BTCUSDT", "b": "60000.0", "B": "1",
                   "a": "60000.1", "A": "2", "u": i}
        elif kind == "depthUpdate":
            msg = {"e": kind, "E": t, "s": "BTCUSDT", "b": [["60000", "1"]], "a": [["60001", "0"]]}
        elif kind == "markPriceUpdate":
            msg = {"e": kind, "E": t, "s": "BTCUSDT", "p": "60000.5", "r": "0.0001", "T": t + 1}
        elif kind == "kline":
            msg = {"e": kind, "E": t, "s": "BTCUSDT", "k": {
                "t": t - 60_000, "T": t - 1, "s": "BTCUSDT", "o": "1", "h": "3", "l": "0.5",
                "c": "2", "v": "10", "x": True}}
        elif kind == "snapshot":
            msg = {"lastUpdateId": i, "E": t, "T": t, "bids": [["1", "2"]], "asks": [["2", "1"]]}
        else:
            msg = draw(st.dictionaries(st.sampled_from(["e", "E", "s", "p", "data", "stream"]),
                                       HOSTILE_JSON, max_size=4))
        target = msg.get("k", msg) if draw(st.booleans()) else msg
        for key in draw(st.sets(st.sampled_from(sorted(target)), max_size=2)) if target else ():
            target[key] = draw(HOSTILE_JSON)
        if draw(st.booleans()):
            msg = {"stream": f"btcusdt@{kind}", "data": msg}
        text = json.dumps(msg)
        if draw(st.integers(0, 9)) == 0:
            text = text[: draw(st.integers(0, len(text)))]
        lines.append(f"{(t + 5) * 1_000_000} {text}" if stamped else text)
    return "cap.gz" if draw(st.booleans()) else "live.jsonl", _finish(
        draw, ("\n".join(lines) + "\n").encode())


def _sane(events: list, warnings: list[str], passes: int) -> None:
    hi = max_ts_ms()
    last = 0
    for e in events:
        assert MIN_TS_MS <= e.ts <= hi
        assert e.ts >= last
        last = e.ts
        prices: list[float] = []
        sizes: list[float] = []
        if isinstance(e, Bar):
            prices = [e.open, e.high, e.low, e.close]
            sizes = [e.volume]
            assert e.low <= min(e.open, e.close) and max(e.open, e.close) <= e.high
            assert e.open_ts <= e.ts
        elif isinstance(e, Quote):
            prices, sizes = [e.bid, e.ask], [e.bid_qty, e.ask_qty]
        elif isinstance(e, Trade):
            prices, sizes = [e.price], [e.qty]
        elif isinstance(e, MarkPrice):
            prices = [e.mark]
            assert math.isfinite(e.funding_rate)
        elif isinstance(e, Depth):
            prices = [p for p, _q in e.bids + e.asks]
            sizes = [q for _p, q in e.bids + e.asks]
        assert all(0 < p < MAX_PRICE for p in prices)
        assert all(0 <= q < MAX_SIZE for q in sizes)
        assert isinstance(e.symbol, str) and e.symbol.isalnum()
    assert len(warnings) <= passes
    assert all("\n" not in w for w in warnings)


def _read_both_ways(name: str, raw: bytes, reader: Callable[..., list]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tapedesk-prop-"))
    path = folder / name
    path.write_bytes(raw)
    warnings: list[str] = []
    try:
        events = reader(path, warn=warnings.append)
    except DataError as exc:
        text = str(exc)
        assert "\n" not in text and text.startswith(str(path))
        return
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _sane(events, warnings, 1)


@SETTINGS
@given(bar_files())
def test_bar_files_give_sane_bars_or_one_data_error(case: tuple[str, bytes]) -> None:
    name, raw = case
    _read_both_ways(name, raw, lambda p, warn: list(iter_events(p, warn=warn)))
    _read_both_ways(name, raw, load_bars)  # the backtest's fast path included


@SETTINGS
@given(capture_files())
def test_stream_captures_give_sane_events_or_one_data_error(case: tuple[str, bytes]) -> None:
    name, raw = case
    _read_both_ways(name, raw, lambda p, warn: list(iter_events(p, warn=warn)))
    _read_both_ways(name, raw, load_bars)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from(["x.csv", "x.json", "x.gz", "x.jsonl"]))
def test_arbitrary_bytes_never_escape_as_anything_but_data_error(raw: bytes, name: str) -> None:
    _read_both_ways(name, raw, lambda p, warn: list(iter_events(p, warn=warn)))
    _read_both_ways(name, raw, load_bars)


def test_a_freqtrade_row_missing_from_a_column_is_skipped_and_named(tmp_path: Path) -> None:
    """Found by bench/fuzz_inputs.py (seed 11): the first row missing from one column."""
    rows = {str(i): T0 + i * 300_000 for i in range(3)}
    doc = {"date": rows, "open": {"1": 2.0, "2": 2.0}, "high": dict.fromkeys(rows, 3.0),
           "low": dict.fromkeys(rows, 1.0), "close": dict.fromkeys(rows, 2.0)}
    path = tmp_path / "ft.json"
    path.write_text(json.dumps(doc))
    warnings: list[str] = []
    bars = load_bars(path, warn=warnings.append)
    assert [b.open_ts for b in bars] == [T0 + 300_000, T0 + 600_000]
    assert warnings == [f"{path}: skipped 1 row (1 unreadable): line 1: row '0' is missing from "
                        "one of open/high/low/close"]
