"""A subscriber's bounded mailbox of engine events (explanations, fills, state changes)."""

from __future__ import annotations

from collections import deque
from typing import Any


class Subscription:
    """A bounded mailbox: when full the oldest event is dropped, never the engine blocked."""

    def __init__(self, owner: Any, maxsize: int) -> None:
        import asyncio

        self._owner = owner
        self._items: deque[Any] = deque(maxlen=maxsize)
        self._event = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def put(self, item: Any) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._event.set()

    def drain(self) -> list[Any]:
        items = list(self._items)
        self._items.clear()
        self._event.clear()
        return items

    def close(self) -> None:
        self.closed = True
        self._event.set()
        self._owner._subs.discard(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._event.clear()
            await self._event.wait()
        item = self._items.popleft()
        return item
