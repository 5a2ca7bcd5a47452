"""Stored format for downloaded klines: size and load speed (bars/s into ``Bar`` objects).

One month of real 1m bars (the bundled sample's January 2022, 44,640 bars) in each form:

- the archive's zip (Binance's 12-column CSV, as downloaded) and a gzip of the same CSV,
  read by the desk's CSV reader (``feeds.load_bars``, its fast column path);
- ``.cols``, the store's format (``feeds.columnar``: typed columns, byte-shuffled,
  zlib), read by ``store.month_bars``; and the same columns without compression;
- parquet (pyarrow, zstd), when pyarrow is installed, read with ``to_pylist`` per column.

    python bench/market_data_format.py [--repeat 5]

Prints figures (best of ``--repeat``); asserts nothing.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import platform
import sys
import tempfile
import time
import zipfile
from array import array
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tapedesk.engine.events import Bar
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.market_data.parse import BAR_COLUMNS, to_columns
from tapedesk.engine.market_data.store import month_bars, save_month
from tapedesk.engine.sample_data import SAMPLE_BARS_1M

JAN1, FEB1 = 1_640_995_200_000, 1_643_673_600_000


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    bars = [b for b in load_bars(SAMPLE_BARS_1M) if JAN1 <= b.open_ts < FEB1]
    n = len(bars)
    csv = "".join(f"{b.open_ts},{b.open!r},{b.high!r},{b.low!r},{b.close!r},{b.volume!r},"
                  f"{b.ts},{b.volume * b.close!r},100,0,0,0\n" for b in bars)
    tmp = Path(tempfile.mkdtemp(prefix="tapedesk-bench-"))
    zpath = tmp / "BTCUSDT-1m-2022-01.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("BTCUSDT-1m-2022-01.csv", csv)
    gpath = tmp / "BTCUSDT-1m-2022-01.csv.gz"
    gpath.write_bytes(gzip.compress(csv.encode(), 6))
    cpath = tmp / "BTCUSDT-1m-2022-01.cols"
    rows = [(b.open_ts, b.open, b.high, b.low, b.close, b.volume) for b in bars]
    write_s, _ = best(lambda: save_month(cpath, rows, "klines", "1m", {}), args.repeat)
    rawpath = tmp / "raw.bin"
    cols = to_columns(rows, BAR_COLUMNS)
    rawpath.write_bytes(b"".join(c.tobytes() for c in cols.values()))

    def raw_load() -> list[Bar]:
        data = rawpath.read_bytes()
        w = len(data) // 6
        arrs = [array("q" if i == 0 else "d", data[i * w:(i + 1) * w]).tolist()
                for i in range(6)]
        return list(map(Bar, itertools.repeat("BTCUSDT"), arrs[0],
                        [t + 59_999 for t in arrs[0]], *arrs[1:]))

    forms: list[tuple[str, Path, Callable[[], list[Bar]]]] = [
        ("archive zip CSV (feeds.load_bars)", zpath, lambda: load_bars(zpath)),
        ("gzip CSV (feeds.load_bars)", gpath, lambda: load_bars(gpath)),
        (".cols shuffled+zlib (store)", cpath, lambda: month_bars(cpath, "BTCUSDT", "1m")),
        ("raw columns, uncompressed", rawpath, raw_load),
    ]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        ppath = tmp / "month.parquet"
        pq.write_table(pa.table({k: v.tolist() for k, v in cols.items()}), ppath,
                       compression="zstd")

        def pq_load() -> list[Bar]:
            t = pq.read_table(ppath)
            c = [t.column(k).to_pylist() for k in BAR_COLUMNS]
            return list(map(Bar, itertools.repeat("BTCUSDT"), c[0],
                            [x + 59_999 for x in c[0]], *c[1:]))

        forms.append(("parquet zstd (pyarrow)", ppath, pq_load))
    except ImportError:
        print("(pyarrow not installed: parquet skipped)")
    want = [(b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars]
    print(f"one month of 1m bars: {n:,} bars; Python {platform.python_version()}, "
          f"best of {args.repeat}; .cols write {write_s * 1000:.0f} ms")
    print(f"{'form':<38} {'size MB':>8} {'load ms':>8} {'bars/s':>12}  same bars")
    for name, path, load in forms:
        secs, got = best(load, args.repeat)
        same = [(b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume)
                for b in got] == want  # type: ignore[union-attr]
        print(f"{name:<38} {path.stat().st_size / 1e6:>8.2f} {secs * 1000:>8.1f} "
              f"{n / secs:>12,.0f}  {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
