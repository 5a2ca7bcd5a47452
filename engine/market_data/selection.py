"""``binance:BTCUSDT:1m:2023-01..2024-06``: downloaded months used wherever a data file is.

``resolve`` (called by ``sample_data.data_source`` while the command line is parsed) checks
that every month of the range is stored or known absent, and writes a small selection file
beside the months (``BTCUSDT-1m-2023-01..2024-06.sel``); ``feeds.files`` recognises it by
its first line and streams ``selection_events``: the stored bars in time order, with the
downloaded funding history merged in (``funding.with_funding``). Gaps and absent months are
reported in one warning line, never filled.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from tapedesk.engine.clock import iso
from tapedesk.engine.events import Bar, MarketEvent
from tapedesk.engine.feeds.columnar import ColumnsError as StoreError
from tapedesk.engine.market_data.archive import (
    INTERVALS,
    interval_ms,
    month_text,
    months,
    parse_month,
)
from tapedesk.engine.market_data.funding import with_funding
from tapedesk.engine.market_data.store import (
    absent_months,
    market_root,
    month_bars,
    series_dir,
    stored_months,
)

FIRST_LINE = "# tapedesk market-data selection"
_SPEC = re.compile(r"binance:([A-Za-z0-9]{2,40}):(\w+)(?::(\d{4}-\d{2})(?:\.\.(\d{4}-\d{2}))?)?")


def _data_dir_from_argv(argv: list[str]) -> str | None:
    """``--data-dir`` as given on the command line (it is parsed after ``--data``'s type)."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--data-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--data-dir="):
            return arg.split("=", 1)[1]
    return None


def resolve(text: str, data: Path | None = None) -> Path:
    """The selection file for ``text``; ArgumentTypeError (one line) when it cannot be used."""
    from tapedesk.engine.paths import data_dir

    m = _SPEC.fullmatch(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not binance:SYMBOL:INTERVAL[:YYYY-MM[..YYYY-MM]] "
            "(e.g. binance:BTCUSDT:1m:2023-01..2024-06)")
    symbol, interval = m.group(1).upper(), m.group(2)
    if interval not in INTERVALS:
        raise argparse.ArgumentTypeError(f"{text}: interval {interval!r} is not one of "
                                         f"{', '.join(INTERVALS)}")
    root = market_root(data or data_dir(_data_dir_from_argv(sys.argv[1:]), create=False))
    have = stored_months(root, "klines", symbol, interval)
    hint = f"tapedesk data download --symbol {symbol} --interval {interval}"
    if not have:
        raise argparse.ArgumentTypeError(
            f"{text}: nothing downloaded for {symbol} {interval} under {root} ({hint} "
            "--from YYYY-MM --to YYYY-MM)")
    try:
        first = parse_month(m.group(3), "from") if m.group(3) else parse_month(min(have), "")
        last = parse_month(m.group(4) or m.group(3), "to") if m.group(3) else parse_month(
            max(have), "")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc}") from None
    if last < first:
        raise argparse.ArgumentTypeError(f"{text}: the range ends before it starts")
    absent = absent_months(root, "klines", symbol, interval)
    wanted = [month_text(x) for x in months(first, last)]
    missing = [x for x in wanted if x not in have and x not in absent]
    if missing:
        shown = ", ".join(missing[:6]) + (f" (+{len(missing) - 6} more)" if len(missing) > 6
                                           else "")
        raise argparse.ArgumentTypeError(
            f"{text}: not downloaded: {shown} ({hint} --from {missing[0]} --to {missing[-1]})")
    if not any(x in have for x in wanted):
        raise argparse.ArgumentTypeError(f"{text}: the archive has none of these months")
    path = series_dir(root, "klines", symbol, interval) / (
        f"{symbol}-{interval}-{wanted[0]}..{wanted[-1]}.sel")
    body = json.dumps({"symbol": symbol, "interval": interval, "from": wanted[0],
                       "to": wanted[-1]})
    content = f"{FIRST_LINE}\n{body}\n"
    try:
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: cannot write {path}: {exc.strerror}") from None
    return path


def _read(path: Path) -> tuple[Path, dict[str, str]]:
    from tapedesk.engine.feeds.checks import DataError

    try:
        lines = Path(path).read_text().splitlines()
        spec = json.loads(lines[1])
        missing = [k for k in ("symbol", "interval", "from", "to") if k not in spec]
        if missing:
            raise KeyError(", ".join(missing))
    except (OSError, IndexError, ValueError, KeyError, TypeError) as exc:
        raise DataError(path, f"not a readable market-data selection ({exc})") from None
    return Path(path).resolve().parents[4], spec


def selection_events(path: Path, start_ms: int | None = None, end_ms: int | None = None,
                     warn: Callable[[str], None] | None = None) -> Iterator[MarketEvent]:
    """Bars of the selected months (window ``start_ms <= ts < end_ms``), funding merged in."""
    root, spec = _read(path)
    symbol, interval = spec["symbol"], spec["interval"]
    wanted = [month_text(x) for x in months(parse_month(spec["from"], "from"),
                                            parse_month(spec["to"], "to"))]
    notes: list[str] = []
    bars = _bars(root, symbol, interval, wanted, start_ms, end_ms, notes)
    yield from with_funding(bars, root, notes.append)
    if not stored_months(root, "funding", symbol, ""):
        notes.append("no funding history downloaded (tapedesk data download --kind funding "
                     f"--symbol {symbol}): the assumed rate applies")
    if warn is not None:
        warn(f"binance:{symbol}:{interval}:{wanted[0]}..{wanted[-1]}: " + "; ".join(notes))


def _bars(root: Path, symbol: str, interval: str, wanted: list[str], start_ms: int | None,
          end_ms: int | None, notes: list[str]) -> Iterator[Bar]:
    """The stored bars in the window; absent months and gaps go to ``notes``."""
    from tapedesk.engine.feeds.checks import DataError

    step = interval_ms(interval)
    have = stored_months(root, "klines", symbol, interval)
    absent = absent_months(root, "klines", symbol, interval)
    holes: list[str] = []
    last_open: int | None = None
    for month in wanted:
        if month not in have:
            if month in absent:
                notes.append(f"{month} not in the archive")
            continue
        try:
            bars = month_bars(have[month], symbol, interval)
        except (OSError, StoreError) as exc:
            raise DataError(have[month], str(exc).removeprefix(f"{have[month]}: ")) from None
        for bar in bars:
            if end_ms is not None and bar.ts >= end_ms:
                break
            if start_ms is not None and bar.ts < start_ms:
                continue
            if last_open is not None and bar.open_ts - last_open > step:
                holes.append(f"{iso(last_open + step)} +{(bar.open_ts - last_open) // step - 1}"
                              " bars")
            last_open = bar.open_ts
            yield bar
        else:
            continue
        break
    if holes:
        shown = "; ".join(holes[:5]) + (f"; +{len(holes) - 5} more" if len(holes) > 5 else "")
        notes.append(f"{len(holes)} gaps in the bars (not filled): {shown}")
