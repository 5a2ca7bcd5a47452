"""The fill keys a backtest remembers: the most recent ``window``, and how many there were.

The engine drops a fill it has already booked (``FillSide.on_fill``, keyed by
``records.fill_key``): live, the exchange can report one fill twice (user stream and REST,
or again after a restart), possibly far apart, so the live engine keeps every key. In a
backtest the paper venue gives each fill a fresh trade id (``P1``, ``P2``, ...) and reports
it once, synchronously; there is no second source and no restart. Keeping all keys there
cost ~250 bytes a fill (a tuple and two strings in a set: ~60 MiB for 260,000 fills). This
set keeps the same rule — a key seen again inside the window is still refused — with memory
bounded by the window; ``len`` is every key ever added (the run's fill count).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Iterator

WINDOW = 4096


class RecentKeys:
    """Set-like (``in``, ``add``, ``update``, ``len``) over the last ``window`` keys added."""

    __slots__ = ("_keys", "_order", "count", "window")

    def __init__(self, keys: Iterable[Hashable] = (), window: int = WINDOW) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.window = window
        self._keys: set[Hashable] = set()
        self._order: deque[Hashable] = deque()
        self.count = 0
        self.update(keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add(self, key: Hashable) -> None:
        keys = self._keys
        if key in keys:
            return
        keys.add(key)
        order = self._order
        order.append(key)
        self.count += 1
        if len(order) > self.window:
            keys.discard(order.popleft())

    def update(self, keys: Iterable[Hashable]) -> None:
        for key in keys:
            self.add(key)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Hashable]:
        """The keys still remembered, oldest first."""
        return iter(self._order)


class RecentCounts(dict[str, int]):
    """A dict that keeps only the last ``window`` keys set: ``PositionBook``'s count of the
    positions each order opened, in a backtest. The count exists for an order that fills in
    parts, opens a position, sees it closed and opens another with its next part; the paper
    venue fills every order whole, in one fill, so only the order being filled is ever
    looked up. Live keeps a plain dict. Reads are dict's own (``get``), unchanged."""

    __slots__ = ("_order", "window")

    def __init__(self, window: int = WINDOW) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.window = window
        self._order: deque[str] = deque()

    def __setitem__(self, key: str, value: int) -> None:
        if key not in self:
            order = self._order
            order.append(key)
            if len(order) > self.window:
                del self[order.popleft()]
        super().__setitem__(key, value)
