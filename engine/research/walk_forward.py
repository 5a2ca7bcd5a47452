"""Walk-forward windows for ``tapedesk optimize --walk-forward K``: **anchored** (expanding).

The data's time span is cut into K+1 segments of equal duration, boundaries
``b0 < b1 < … < b(K+1)``. Fold ``i`` (1..K) searches on the in-sample span ``[b0, b(i))``
— everything before its test window — and is scored out of sample on ``[b(i), b(i+1))``,
the segment that follows. Each fold is a separate search (its own Optuna study), so
nothing a fold chooses, not even which parameters its sampler tries, depends on data at or
after its test window. A window keeps events with ``start <= ts < end`` (bar close time),
as ``--from/--to`` do, so no bar is in two windows.

Anchored rather than rolling: a 1m strategy makes a few trades a day, and a rolling window
of one segment would leave the early folds' searches with too few trades to tell skill from
luck; the price is that later folds weigh old data as much as new.

Without walk-forward (K = 0) there is one search over the whole span and no out-of-sample
figure at all: the report says so. In-sample runs report their objective at each segment
boundary (quarters of the span without walk-forward) so the pruner can stop a hopeless trial.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Fold:
    """One search: in-sample ``[is_start, is_end)``, scored on ``[oos_start, oos_end)``
    (both None without walk-forward); ``checkpoints`` are the in-sample times at which a
    trial reports its objective so far (the last is ``is_end``)."""

    index: int
    is_start: int
    is_end: int
    oos_start: int | None
    oos_end: int | None
    checkpoints: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"fold-{self.index}" if self.oos_start is not None else "all"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Fold:
        return cls(d["index"], d["is_start"], d["is_end"], d["oos_start"], d["oos_end"],
                   tuple(d["checkpoints"]))


def make_folds(start: int, end: int, k: int) -> list[Fold]:
    """Anchored walk-forward folds over ``[start, end)`` (k >= 1), or the one whole-span
    search (k = 0). Boundaries fall on whole minutes."""
    if end <= start:
        raise ValueError("the data span is empty")
    if k == 0:
        quarter = [_minute(start + (end - start) * q // 4) for q in (1, 2, 3)]
        cps = tuple(sorted({c for c in quarter if start < c < end} | {end}))
        return [Fold(0, start, end, None, None, cps)]
    cuts = [start] + [_minute(start + (end - start) * j // (k + 1)) for j in range(1, k + 1)]
    cuts.append(end)
    if any(b <= a for a, b in itertools.pairwise(cuts)):
        raise ValueError(f"the data is too short for {k} walk-forward windows")
    return [Fold(i, start, cuts[i], cuts[i], cuts[i + 1], tuple(cuts[1 : i + 1]))
            for i in range(1, k + 1)]


def _minute(ts: int) -> int:
    return ts // MINUTE_MS * MINUTE_MS


def data_span(path: Path, symbol: str | None, start: int | None, end: int | None,
              fmt: str) -> tuple[int, int, int]:
    """(first ts, last ts + 1, events) of the data in ``[start, end)``: one streaming pass."""
    from tapedesk.engine.feeds.files import iter_events

    first = last = None
    n = 0
    for ev in iter_events(path, symbol, start, end, lambda _w: None, fmt):
        if first is None:
            first = ev.ts
        last = ev.ts
        n += 1
    if first is None or last is None:
        raise ValueError(f"{path}: no market events in the chosen range")
    return first, last + 1, n
