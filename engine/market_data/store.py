"""Where downloaded market data lives and how it is read back.

Under ``<data dir>/market/`` (beside, never inside, the journals), one file per symbol,
kind, interval and month::

    market/binance-um/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.cols
    market/binance-um/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-01.cols
    market/binance-um/.../absent.json      months the archive does not have (HTTP 404)
    market/partial/*.part                  interrupted downloads, resumed with HTTP Range

Each file is in the desk's one binary format (``feeds.columnar``, compressed columns
open_ms, open, high, low, close, volume); its header (``read_header``) carries its span,
gaps and provenance, so ``tapedesk data list`` reads no data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tapedesk.engine.events import Bar
from tapedesk.engine.feeds.columnar import make_bars, read_header, read_table, write_table
from tapedesk.engine.market_data.archive import KINDS, Month, interval_ms, month_text
from tapedesk.engine.market_data.parse import (
    BAR_COLUMNS,
    FUNDING_COLUMNS,
    gaps,
    to_columns,
)

SUFFIX = ".cols"
MAX_GAPS_KEPT = 50


def market_root(data: Path) -> Path:
    return Path(data) / "market"


def series_dir(root: Path, kind: str, symbol: str, interval: str) -> Path:
    base = root / "binance-um" / KINDS[kind] / symbol
    return base if kind == "funding" else base / interval


def month_path(root: Path, kind: str, symbol: str, interval: str, month: Month) -> Path:
    stem = f"{symbol}-fundingRate" if kind == "funding" else f"{symbol}-{interval}"
    return series_dir(root, kind, symbol, interval) / f"{stem}-{month_text(month)}{SUFFIX}"


def partial_dir(root: Path) -> Path:
    return root / "partial"


@contextmanager
def download_lock(root: Path, waiting: Callable[[], None]) -> Iterator[None]:
    """One download at a time per data dir: two would share ``partial/*.part`` (one
    truncating or deleting what the other is writing). A second one waits, then finds the
    months stored and skips them. ``waiting`` is called once if it has to wait."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "download.lock", "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def save_month(path: Path, rows: list[tuple], kind: str, interval: str,
               meta: dict[str, Any]) -> int:
    """Store one month; the header gets its span and gaps. Returns bytes written."""
    names = FUNDING_COLUMNS if kind == "funding" else BAR_COLUMNS
    cols = to_columns(rows, names)
    holes = [] if kind == "funding" else gaps(cols["open_ms"], interval_ms(interval))
    meta = {
        **meta,
        "first": rows[0][0] if rows else None,
        "last": rows[-1][0] if rows else None,
        "gap_count": len(holes),
        "gap_bars": sum(n for _, n in holes),
        "gaps": holes[:MAX_GAPS_KEPT],
    }
    return write_table(path, cols, meta)


def stored_months(root: Path, kind: str, symbol: str, interval: str) -> dict[str, Path]:
    """{"YYYY-MM": path} of the months on disk for one series."""
    folder = series_dir(root, kind, symbol, interval)
    return {p.stem[-7:]: p for p in sorted(folder.glob(f"*{SUFFIX}"))}


def absent_path(root: Path, kind: str, symbol: str, interval: str) -> Path:
    return series_dir(root, kind, symbol, interval) / "absent.json"


def absent_months(root: Path, kind: str, symbol: str, interval: str) -> dict[str, str]:
    path = absent_path(root, kind, symbol, interval)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def set_absent(root: Path, kind: str, symbol: str, interval: str, month: str,
               why: str | None) -> None:
    """Record (or, with ``why=None``, forget) a month the archive does not have."""
    have = absent_months(root, kind, symbol, interval)
    if why is None and month not in have:
        return
    if why is None:
        have.pop(month)
    else:
        have[month] = why
    path = absent_path(root, kind, symbol, interval)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(have.items())), indent=1))


def series(root: Path) -> Iterator[tuple[str, str, str, dict[str, Path]]]:
    """Every stored (kind, symbol, interval, months) under ``root``."""
    base = root / "binance-um"
    for kind, folder in KINDS.items():
        for sym_dir in sorted(p for p in (base / folder).glob("*") if p.is_dir()):
            dirs = [sym_dir] if kind == "funding" else sorted(
                p for p in sym_dir.iterdir() if p.is_dir())
            for d in dirs:
                interval = "" if kind == "funding" else d.name
                months = stored_months(root, kind, sym_dir.name, interval)
                if months:
                    yield kind, sym_dir.name, interval, months


def header_meta(path: Path) -> dict[str, Any]:
    head = read_header(path)
    return {**head.get("meta", {}), "rows": head.get("rows", 0),
            "bytes": path.stat().st_size}


def month_bars(path: Path, symbol: str, interval: str) -> list[Bar]:
    """The bars of one stored month (``Bar.ts`` = open + interval - 1, Binance's close time)."""
    cols, _meta = read_table(path)
    step = interval_ms(interval) - 1
    opens = cols["open_ms"].tolist()
    closes = [t + step for t in opens]
    return list(make_bars(symbol, opens, closes, cols["open"].tolist(), cols["high"].tolist(),
                          cols["low"].tolist(), cols["close"].tolist(), cols["volume"].tolist()))


def month_funding(path: Path) -> list[tuple[int, float]]:
    """(funding time ms, rate) rows of one stored month."""
    cols, _meta = read_table(path)
    return list(zip(cols["time_ms"].tolist(), cols["rate"].tolist(), strict=True))
