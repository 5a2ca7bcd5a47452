"""The feed interface: where market events come from (live websocket, replay file, tests).

A feed hands the engine *batches* of events rather than single ones so a fast replay costs one
await per batch, not per event, while a live feed can still yield a batch of one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from tapedesk.engine.events import Bar, Depth, MarketEvent, MarkPrice, Quote, Trade
from tapedesk.engine.snapshot import FeedStatus


@runtime_checkable
class Feed(Protocol):
    """A source of time-ordered market events (``ts`` never decreases across batches)."""

    name: str
    status: FeedStatus
    symbols: tuple[str, ...]

    def batches(self) -> AsyncIterator[list[MarketEvent]]:
        """Async iterator of non-empty event lists; ends when the feed ends."""
        ...

    async def close(self) -> None: ...


def shifted(event: MarketEvent, delta_ms: int) -> MarketEvent:
    """A copy of ``event`` moved ``delta_ms`` later (looped replays keep time monotonic)."""
    if delta_ms == 0:
        return event
    if isinstance(event, Bar):
        return Bar(event.symbol, event.open_ts + delta_ms, event.ts + delta_ms, event.open,
                   event.high, event.low, event.close, event.volume)
    if isinstance(event, Quote):
        return Quote(event.symbol, event.ts + delta_ms, event.bid, event.bid_qty, event.ask,
                     event.ask_qty)
    if isinstance(event, Trade):
        return Trade(event.symbol, event.ts + delta_ms, event.price, event.qty,
                     event.buyer_is_maker)
    if isinstance(event, MarkPrice):
        return MarkPrice(event.symbol, event.ts + delta_ms, event.mark, event.funding_rate,
                         event.next_funding_ts + delta_ms)
    if isinstance(event, Depth):
        return Depth(event.symbol, event.ts + delta_ms, event.bids, event.asks, event.is_snapshot)
    raise TypeError(f"not a market event: {event!r}")
