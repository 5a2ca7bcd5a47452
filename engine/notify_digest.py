"""What a notification says: engine events classified by kind, folded into few messages.

The engine's subscription carries four kinds of item (engine.commit announces them after
they are on disk): ``Fill``, ``RoundTrip`` (a closed trade), ``StateChanged`` (pause, halt,
day lock, strategy toggles) and ``Explanation`` (the explanation log's sentences). Each
notification kind maps onto them (``classify``); the two with no event of their own,
UNPROTECTED and reconnect storms, are derived by ``engine.notifier``'s watch.

A ``Digest`` holds what waits to be sent, bounded whatever arrives: per (kind, symbol) a
count, the time span and the last few sentences. A flood of 1,000 fills is one line,
"1000 fills on BTCUSDT in 60 s". A ``TokenBucket`` per service bounds how many messages go.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tapedesk.engine import explanations as say
from tapedesk.engine.events import Explanation, ExplanationKind, Fill, RoundTrip
from tapedesk.engine.snapshot import DeskState, StateChanged

#: Kinds sent as soon as a token allows; the others wait for the batch window.
URGENT = frozenset({"halt", "day_lock", "unprotected", "reconnect_storm", "error"})
_PLURAL = {"fill": "fills", "exit": "closed trades", "halt": "halt messages",
           "day_lock": "day locks", "unprotected": "UNPROTECTED warnings",
           "reconnect_storm": "reconnect storms", "error": "errors"}
_KEEP_LINES = 3


@dataclass(frozen=True, slots=True)
class Note:
    kind: str
    symbol: str
    text: str


class Classifier:
    """Engine items → notes. Remembers the desk state so only a *change into* HALTED or
    DAY LOCKED is a note (StateChanged is also posted for pauses and strategy toggles)."""

    def __init__(self, state: DeskState | None = None) -> None:
        self.state = state

    def __call__(self, item: Any) -> Note | None:
        if isinstance(item, Fill):
            return Note("fill", item.symbol, say.fill(item))
        if isinstance(item, RoundTrip):
            return Note("exit", item.symbol, say.round_trip(item))
        if isinstance(item, StateChanged):
            before, self.state = self.state, item.state
            if item.state is before:
                return None
            if item.state is DeskState.HALTED:
                return Note("halt", "", f"Desk HALTED: {item.text or 'emergency stop'}.")
            if item.state is DeskState.DAY_LOCKED:
                return Note("day_lock", "", f"DAY LOCKED: {item.text}.")
            return None
        if isinstance(item, Explanation):
            # The emergency stop's own verdict (engine.emergency_stop says it in one place).
            if item.kind is ExplanationKind.DESK and item.text.startswith("Step 3/3 verify"):
                return Note("halt", "", item.text)
            if item.kind is ExplanationKind.ERROR:
                if item.text.startswith("UNPROTECTED "):  # the grace ran out: closing it
                    return Note("unprotected", item.symbol, item.text)
                return Note("error", item.symbol, item.text)
        return None


@dataclass
class _Group:
    first: float
    last: float
    count: int = 0
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=_KEEP_LINES))


class Digest:
    """Notes waiting for one service, folded per (kind, symbol); bounded by the number of
    kinds and symbols, not by how many notes arrive."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._groups: dict[tuple[str, str], _Group] = {}
        self.first: float | None = None
        self.urgent = False
        self.notes = 0

    def __bool__(self) -> bool:
        return bool(self._groups)

    def add(self, note: Note) -> None:
        now = self._clock()
        group = self._groups.get((note.kind, note.symbol))
        if group is None:
            group = self._groups[(note.kind, note.symbol)] = _Group(now, now)
        group.count += 1
        group.last = now
        group.lines.append(note.text)
        self.notes += 1
        if self.first is None:
            self.first = now
        self.urgent = self.urgent or note.kind in URGENT

    def holds(self, kind: str) -> bool:
        return any(k == kind for k, _ in self._groups)

    def due(self, window_s: float) -> float:
        """When the waiting notes should go: now if any is urgent, else at the window's end."""
        if self.first is None:
            return float("inf")
        return self.first if self.urgent else self.first + window_s

    def take(self) -> tuple[str, str, int]:
        """(title, body, notes folded in) of one message holding everything waiting."""
        groups, self._groups = self._groups, {}
        notes, self.notes, self.first, self.urgent = self.notes, 0, None, False
        order = sorted(groups.items(), key=lambda kv: (kv[0][0] not in URGENT, kv[1].first))
        body, heads = [], []
        for (kind, symbol), g in order:
            if g.count == 1:
                body.append(g.lines[-1])
                heads.append(kind.replace("_", " "))
                continue
            on = f" on {symbol}" if symbol else ""
            what = f"{g.count} {_PLURAL.get(kind, kind)}{on} in {max(g.last - g.first, 1):.0f} s"
            heads.append(what)
            body.append(f"{what}; last {len(g.lines)}:")
            body.extend(f"  {line}" for line in g.lines)
        title = "Tapedesk: " + ", ".join(heads[:3]) + (" …" if len(heads) > 3 else "")
        return title, "\n".join(body), notes


class TokenBucket:
    """``burst`` messages at once, refilled at ``per_minute``: a service is never stormed."""

    def __init__(self, burst: int, per_minute: float, clock: Any = time.monotonic) -> None:
        self.capacity = float(burst)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def wait_s(self) -> float:
        """Seconds until a token is there (0 when one is)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def take(self) -> None:
        self._refill()
        self._tokens -= 1
