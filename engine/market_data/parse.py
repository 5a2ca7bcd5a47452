"""Archive CSVs (inside their zips) and REST klines → checked columns for the store.

Quirks handled: some archive CSVs start with a header row and older ones do not; times are
epoch ms, and µs in newer spot files (told apart by magnitude, ``feeds.readers.to_ms``).
A bad row is skipped and counted (the caller says how many), never guessed at; gaps are
measured (``gaps``), never filled.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from array import array
from dataclasses import dataclass, field

from tapedesk.engine.feeds.checks import MAX_FUNDING_RATE, bar_problem, max_ts_ms
from tapedesk.engine.feeds.readers import to_ms

BAR_COLUMNS = ("open_ms", "open", "high", "low", "close", "volume")
FUNDING_COLUMNS = ("time_ms", "interval_h", "rate")


class ArchiveError(Exception):
    """A downloaded archive that is not a readable one-CSV zip."""


@dataclass
class Parsed:
    """Rows of one file, sorted by time, and what was skipped on the way."""

    rows: list[tuple] = field(default_factory=list)
    skipped: int = 0
    first_problem: str = ""

    def skip(self, lineno: int, why: str) -> None:
        self.skipped += 1
        if not self.first_problem:
            self.first_problem = f"line {lineno}: {why}"


def zip_text(blob: bytes, name: str) -> str:
    """The one CSV inside an archive zip. Raises ArchiveError for a corrupt zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise ArchiveError(f"{name}: holds {len(members)} files, expected one CSV")
            return zf.read(members[0]).decode("utf-8-sig", errors="replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise ArchiveError(f"{name}: not a readable zip ({exc})") from None
    except Exception as exc:  # zlib.error and friends from a damaged member
        raise ArchiveError(f"{name}: zip content is corrupt ({exc})") from None


def kline_rows(text: str) -> Parsed:
    """Binance kline CSV (12 columns, header optional) → (open_ms, o, h, l, c, v) rows."""
    out = Parsed()
    max_ms = max_ts_ms()
    for lineno, line in enumerate(text.splitlines(), 1):
        f = line.split(",")
        if len(f) < 6:
            if line.strip():
                out.skip(lineno, f"{len(f)} columns, expected 12")
            continue
        if lineno == 1 and not f[0].strip().lstrip("-").isdigit():
            continue  # the header row some files have
        try:
            row = (to_ms(int(f[0])), float(f[1]), float(f[2]), float(f[3]), float(f[4]),
                   float(f[5]))
        except (ValueError, OverflowError) as exc:
            out.skip(lineno, str(exc))
            continue
        bad = bar_problem(row[0], None, *row[1:], max_ms)
        if bad:
            out.skip(lineno, bad)
            continue
        out.rows.append(row)
    return _ordered(out)


def rest_rows(klines: list) -> Parsed:
    """A ``/fapi/v1/klines`` JSON page → the same rows as ``kline_rows``."""
    text = "\n".join(",".join(str(x) for x in k[:6]) for k in klines if isinstance(k, list))
    return kline_rows(text)


def funding_rows(text: str) -> Parsed:
    """``calc_time,funding_interval_hours,last_funding_rate`` (header optional) → rows."""
    out = Parsed()
    max_ms = max_ts_ms()
    for lineno, line in enumerate(text.splitlines(), 1):
        f = line.split(",")
        if len(f) < 3:
            if line.strip():
                out.skip(lineno, f"{len(f)} columns, expected 3")
            continue
        if lineno == 1 and not f[0].strip().isdigit():
            continue
        try:
            t, hours, rate = to_ms(int(f[0])), int(f[1]), float(f[2])
        except (ValueError, OverflowError) as exc:
            out.skip(lineno, str(exc))
            continue
        if not (abs(rate) <= MAX_FUNDING_RATE and 1 <= hours <= 24 and t <= max_ms):
            out.skip(lineno, f"funding row {line.strip()[:60]!r} out of range")
            continue
        out.rows.append((t, hours, rate))
    return _ordered(out)


def _ordered(p: Parsed) -> Parsed:
    """Sorted by time, one row per time (a repeated time keeps its first row, counted)."""
    p.rows.sort(key=lambda r: r[0])
    kept: list[tuple] = []
    for r in p.rows:
        if kept and r[0] == kept[-1][0]:
            p.skip(0, f"time {r[0]} repeated")
            continue
        kept.append(r)
    p.rows = kept
    return p


def to_columns(rows: list[tuple], names: tuple[str, ...]) -> dict[str, array]:
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return {n: array("d" if n not in ("open_ms", "time_ms", "interval_h") else "q", c)
            for n, c in zip(names, cols, strict=True)}


def gaps(open_ms: array | list[int], step: int) -> list[tuple[int, int]]:
    """(first missing bar's open time, bars missing) for every hole in ``open_ms``."""
    return [(a + step, (b - a) // step - 1) for a, b in itertools.pairwise(open_ms)
            if b - a > step]
