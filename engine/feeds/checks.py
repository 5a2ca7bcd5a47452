"""Sanity bounds for market data values, and the one error a data file can raise.

Every reader and message parser asks the same questions of a price, a size and a timestamp,
so a NaN, an infinity, a 1e308 price, a negative size or a bar dated 1900 or 2100 is rejected
in one place with one wording. Rejected *rows* are skipped and counted (``Skips``: one warning
line at the end, the first few line numbers in it); a file that cannot be read *at all* is a
``DataError`` naming the file, the line when known, and what was wrong.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

#: 2009-01-01 UTC: no crypto market data is older.
MIN_TS_MS = 1_230_768_000_000
#: Data "from the future" further than this is a corrupt timestamp, not market data.
FUTURE_SLACK_MS = 7 * 86_400_000
#: Prices at or above this (and sizes at or above ``MAX_SIZE``) are corruption, not markets.
MAX_PRICE = 1e10
MAX_SIZE = 1e18
#: A funding rate beyond ±100 % per interval is not a rate.
MAX_FUNDING_RATE = 1.0


class DataError(ValueError):
    """A data file that cannot be used: ``path:line: reason`` (line when known)."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None) -> None:
        self.path, self.reason, self.line = str(path), reason, line
        name = shown_path(path)
        where = f"{name}:{line}" if line else name
        super().__init__(f"{where}: {reason}")


def shown_path(path: str | Path) -> str:
    """A path as the user typed it, quoted if it holds a newline or other unprintable
    character (a message is one line, whatever the file is called)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


_max_ts = [0.0, 0]  # [monotonic expiry, value]: the clock is read once a minute, not per row


def max_ts_ms() -> int:
    """The latest believable event time: now plus ``FUTURE_SLACK_MS``."""
    now = time.monotonic()
    if now >= _max_ts[0]:
        _max_ts[0], _max_ts[1] = now + 60.0, int(time.time() * 1000) + FUTURE_SLACK_MS
    return int(_max_ts[1])


def ts_problem(ms: int, max_ms: int | None = None) -> str | None:
    """Why ``ms`` cannot be a market event time, or None."""
    if ms < MIN_TS_MS:
        return f"time {ms} is before 2009"
    if ms > (max_ms if max_ms is not None else max_ts_ms()):
        return f"time {ms} is in the future"
    return None


# price() and size() sit on the replay hot path (several per stream message): one float()
# and one chained comparison, which is False for NaN and for ±inf, so no isfinite call.

def price(raw: object, what: str = "price") -> float:
    """A finite, positive, sane price (raises ValueError saying which and why)."""
    try:
        v = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} {_short(raw)} is not a number") from None
    if not 0 < v < MAX_PRICE or raw.__class__ is bool:
        raise ValueError(f"{what} {_short(raw)} is not a positive finite price")
    return v


def size(raw: object, what: str = "qty") -> float:
    """A finite, non-negative, sane size (0 allowed: an empty level, a volume-less bar)."""
    try:
        v = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} {_short(raw)} is not a number") from None
    if not 0 <= v < MAX_SIZE or raw.__class__ is bool:
        raise ValueError(f"{what} {_short(raw)} is not a non-negative finite size")
    return v


def _short(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def rate(raw: object) -> float:
    v = _number(raw, "funding rate")
    if not -MAX_FUNDING_RATE < v < MAX_FUNDING_RATE:
        raise ValueError(f"funding rate {raw!r} is out of range")
    return v


def integer(raw: object, what: str) -> int:
    """An integer from an int or integral text/float (bools and fractions rejected)."""
    if raw.__class__ is int:
        return raw  # type: ignore[return-value]
    if isinstance(raw, bool):
        raise ValueError(f"{what} {raw!r} is not a number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            pass
    raise ValueError(f"{what} {raw!r} is not an integer")


def _number(raw: object, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValueError(f"{what} {raw!r} is not a number")
    try:
        v = float(raw)
    except (ValueError, OverflowError):
        raise ValueError(f"{what} {raw!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} {raw!r} is not finite")
    return v


def bar_problem(t: int, ct: int | None, o: float, h: float, lo: float, c: float, v: float,
                max_ms: int) -> str | None:
    """Why a bar row is unusable, or None (every comparison is False for NaN: rejected)."""
    bad = ts_problem(t, max_ms) or (ts_problem(ct, max_ms) if ct is not None else None)
    if bad:
        return bad
    for name, x in (("open", o), ("high", h), ("low", lo), ("close", c)):
        if not 0 < x < MAX_PRICE:
            return f"{name} {x!r} is not a positive finite price"
    if not 0 <= v < MAX_SIZE:
        return f"volume {v!r} is not a non-negative finite size"
    if not lo <= h:
        return f"high {h!r} is below low {lo!r}"
    if not (lo <= o <= h and lo <= c <= h):
        return "open/close outside the bar's low-high range"
    return None


class Skips:
    """Rows skipped while reading one file: counted, reported in ONE line at the end."""

    FIRST = 5

    def __init__(self, where: str, warn: Callable[[str], None] | None) -> None:
        self.where = shown_path(where)
        self.warn = warn
        self.count = 0
        self.reasons: Counter[str] = Counter()
        self.first: list[tuple[int, str]] = []

    def add(self, line: int, reason: str, kind: str | None = None) -> None:
        self.count += 1
        self.reasons[kind or _kind(reason)] += 1
        if len(self.first) < self.FIRST:
            self.first.append((line, reason[:90]))

    def summary(self) -> str | None:
        if not self.count:
            return None
        kinds = ", ".join(f"{n} {k}" for k, n in self.reasons.most_common())
        first = "; ".join(f"line {ln}: {r}" for ln, r in self.first)
        more = f"; … {self.count - len(self.first)} more" if self.count > len(self.first) else ""
        rows = "row" if self.count == 1 else "rows"
        return f"{self.where}: skipped {self.count} {rows} ({kinds}): {first}{more}"

    def report(self) -> None:
        """Emit the summary once (later calls are no-ops)."""
        text = self.summary()
        if text and self.warn is not None:
            self.warn(text)
        self.count = 0
        self.reasons.clear()
        self.first.clear()


def _kind(reason: str) -> str:
    """The summary's category for a skip reason (the wordings are this module's own)."""
    if any(k in reason for k in ("does not advance", "goes back", "leaps ahead")):
        return "out of order"
    if any(k in reason for k in ("is before 2009", "is in the future", "before open time")):
        return "bad time"
    if any(k in reason for k in ("finite price", "finite size", "is below low", "outside the bar",
                                 "is not finite", "funding rate", "is above ask")):
        return "bad value"
    return "unreadable"
