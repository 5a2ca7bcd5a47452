"""Loaders for real market data, independent of engine/feeds.

The files come from the package's bundled samples and tests/data (always present); a full
team data folder (../shared/data, or $TAPEDESK_SHARED_DATA) is used instead when present.

The strategies' tests read the files directly so that a change in the feed layer cannot
silently change what the strategies are checked against.
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from tapedesk.engine.events import Bar, Depth, Quote, Trade
from tapedesk.engine.sample_data import SAMPLE_BARS_1M, SAMPLE_STREAM

DATA = Path(
    os.environ.get("TAPEDESK_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)
TESTS_DATA = Path(__file__).resolve().parents[1] / "data"


def _first(*candidates: Path) -> Path:
    return next((p for p in candidates if p.exists()), candidates[-1])


KLINES_1M = _first(DATA / "klines" / "nautilus_btc-perp-20211231-20220201_1m.csv", SAMPLE_BARS_1M)
BTC_1H = _first(DATA / "klines" / "ninjabot_btc-1h.csv", TESTS_DATA / "ninjabot_btc-1h.csv")
USDM_BTC = _first(DATA / "streams" / "hftbacktest_usdm_btcusdt_20240808.gz", SAMPLE_STREAM)
USDM_ETH = _first(
    DATA / "streams" / "hftbacktest_usdm_ethusdt_20240808.gz",
    TESTS_DATA / "hftbacktest_usdm_ethusdt_20240808.gz",
)


def _open_text(path: Path):
    """Plain or gzip (the bundled 1m sample is the same CSV, gzipped)."""
    with path.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gz else path.open()


def load_1m(symbol: str = "BTCUSDT") -> list[Bar]:
    """The month of real 1m bars (FTX BTC-PERP; close time = open + 59,999 ms)."""
    bars: list[Bar] = []
    with _open_text(KLINES_1M) as fh:
        for row in csv.DictReader(fh):
            t = datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
            ot = int(t.timestamp() * 1000)
            bars.append(
                Bar(
                    symbol,
                    ot,
                    ot + 59_999,
                    float(row["open"]),
                    float(row["high"]),
                    float(row["low"]),
                    float(row["close"]),
                    float(row["volume"]),
                )
            )
    return bars


def load_1h(symbol: str = "BTCUSDT") -> list[Bar]:
    """ninjabot's Binance BTCUSDT 1h bars (columns: time, open, close, low, high, volume)."""
    bars: list[Bar] = []
    seen: set[int] = set()
    with BTC_1H.open() as fh:
        for row in csv.reader(fh):
            ot = int(row[0]) * 1000
            if ot in seen:  # the file has 5 duplicated hours
                continue
            seen.add(ot)
            o, c, lo, hi, v = (float(x) for x in row[1:6])
            bars.append(Bar(symbol, ot, ot + 3_599_999, o, hi, lo, c, v))
    return bars


@functools.cache
def load_stream(path: Path) -> list[Quote | Depth | Trade]:
    """bookTicker → Quote, depthUpdate / REST snapshot → Depth, trade → Trade, in file order.

    Cached: the captures are parsed once per test session (callers must not mutate).
    """
    out: list[Quote | Depth | Trade] = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            _, raw = line.split(" ", 1)
            msg = json.loads(raw)
            if "stream" not in msg:
                sym = "BTCUSDT" if "btc" in path.name else "ETHUSDT"
                out.append(
                    Depth(
                        sym,
                        int(msg.get("T") or msg.get("E") or 0),
                        [(float(p), float(q)) for p, q in msg["bids"]],
                        [(float(p), float(q)) for p, q in msg["asks"]],
                        is_snapshot=True,
                    )
                )
                continue
            d = msg["data"]
            e = d.get("e")
            if e == "bookTicker":
                out.append(
                    Quote(
                        d["s"],
                        int(d["T"]),
                        float(d["b"]),
                        float(d["B"]),
                        float(d["a"]),
                        float(d["A"]),
                    )
                )
            elif e == "depthUpdate":
                out.append(
                    Depth(
                        d["s"],
                        int(d["T"]),
                        [(float(p), float(q)) for p, q in d["b"]],
                        [(float(p), float(q)) for p, q in d["a"]],
                    )
                )
            elif e == "trade":
                out.append(Trade(d["s"], int(d["T"]), float(d["p"]), float(d["q"]), bool(d["m"])))
    return out
