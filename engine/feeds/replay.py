"""Replay a data file (or a list of events) as a feed, at any speed, optionally forever.

Pacing follows event time: with ``speed`` 2.0 one hour of data takes thirty minutes. Speed 0
means as fast as possible, but the feed still yields to the event loop between batches so a
UI sharing the loop keeps drawing and the emergency-stop key keeps working.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path

from tapedesk.engine.events import MarketEvent
from tapedesk.engine.feeds.base import shifted
from tapedesk.engine.feeds.files import Warn, check_readable, iter_events
from tapedesk.engine.snapshot import FeedStatus

MAX_BATCH = 1000
#: With a speed > 0, events due within this much wall time go out in one batch.
PACE_QUANTUM_S = 0.005


class ReplayFeed:
    """A ``Feed`` over a file path or an iterable of events (time-ordered).

    - ``start_ms``/``end_ms`` cut the data to ``start_ms <= ts < end_ms`` (each pass).
    - ``loop`` restarts from the beginning, shifting timestamps past the last event of the
      previous pass by one typical event spacing, so time stays strictly moving forward.
    - ``skip_until_ts`` drops events (after the loop shift) with ``ts < skip_until_ts``
      without pacing: resuming a replay after a restart re-delivers only events at or after
      that time.

    A file is checked before anything runs (``check_readable``: exists, decompresses to the
    end, known layout) so a bad file is a DataError at construction, not mid-session; its
    skipped rows are reported once (first pass), never per loop.
    """

    def __init__(
        self,
        path_or_events: str | Path | Iterable[MarketEvent],
        speed: float = 0.0,
        loop: bool = False,
        symbol: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        skip_until_ts: int | None = None,
        warn: Warn | None = None,
        max_batch: int = MAX_BATCH,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        import asyncio

        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be >= 0 (0 = as fast as possible), got {speed}")
        self.speed = speed
        self.loop = loop
        self.skip_until_ts = skip_until_ts
        self.max_batch = max(1, max_batch)
        self._symbol = symbol
        self._start_ms, self._end_ms = start_ms, end_ms
        self._warn = warn
        self._closed = False
        self._clock = clock  # injectable (tests); default: the event loop's clock
        self._sleep = sleep or asyncio.sleep
        if isinstance(path_or_events, str | Path):
            self._path: Path | None = Path(path_or_events)
            check_readable(self._path)
            self._events: list[MarketEvent] | None = None
            self.name = f"replay:{self._path.name}"
        else:
            self._path = None
            self._events = [
                e for e in path_or_events
                if (start_ms is None or e.ts >= start_ms) and (end_ms is None or e.ts < end_ms)
            ]
            self.name = "replay:events"
        self.status = FeedStatus.REPLAY
        self.symbols = self._peek_symbols()
        self.events_emitted = 0
        self.passes = 0

    def _source(self, quiet: bool = False) -> Iterator[MarketEvent]:
        if self._events is not None:
            return iter(self._events)
        assert self._path is not None
        warn = _quiet if quiet or self.passes else self._warn
        return iter_events(self._path, self._symbol, self._start_ms, self._end_ms, warn)

    def _peek_symbols(self) -> tuple[str, ...]:
        self.passes = 0
        src = self._source(quiet=True)
        try:
            found = tuple(dict.fromkeys(e.symbol for e in itertools.islice(src, 200)))
        finally:
            close = getattr(src, "close", None)
            if close:
                close()
        return found or ((self._symbol.upper(),) if self._symbol else ())

    async def batches(self) -> AsyncIterator[list[MarketEvent]]:
        import asyncio

        now = self._clock or asyncio.get_running_loop().time
        shift = 0
        wall0: float | None = None
        ev0 = 0
        try:
            while not self._closed:
                first_ts = last_ts = None
                spacing = 0
                batch: list[MarketEvent] = []
                src = self._source()
                for raw in src:
                    if first_ts is None:
                        first_ts = raw.ts
                    elif not spacing and raw.ts > last_ts:
                        spacing = raw.ts - first_ts
                    last_ts = raw.ts
                    ev = shifted(raw, shift)
                    if self.skip_until_ts is not None and ev.ts < self.skip_until_ts:
                        continue
                    if self.speed > 0:
                        if wall0 is None:
                            wall0, ev0 = now(), ev.ts
                        due = wall0 + (ev.ts - ev0) / 1000.0 / self.speed
                        if batch and (due - now() > PACE_QUANTUM_S
                                      or len(batch) >= self.max_batch):
                            yield batch
                            batch = []
                            if self._closed:
                                return
                        if not batch:  # always yield to the loop between batches
                            await self._sleep(max(due - now(), 0.0))
                    elif len(batch) >= self.max_batch:
                        yield batch
                        batch = []
                        await self._sleep(0)
                        if self._closed:
                            return
                    batch.append(ev)
                    self.events_emitted += 1
                if batch:
                    yield batch
                    await self._sleep(0)
                self.passes += 1
                if not self.loop or first_ts is None:
                    return
                shift += last_ts - first_ts + max(spacing, 1)
        finally:
            self.status = FeedStatus.ENDED

    async def close(self) -> None:
        self._closed = True
        self.status = FeedStatus.ENDED


def _quiet(_message: str) -> None:
    """Skipped-row summaries already given (peeking, or a later pass of a loop)."""
