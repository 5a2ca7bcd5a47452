"""One event loop for a live session, from the console script to the last order.

The venue's HTTP session belongs to the loop it was made in, so the account checks, the typed
confirmation, the account set-up, the engine (headless or inside the Textual desk) and the
final clean-up all run on the same loop, which this module owns and closes last.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from tapedesk.engine.snapshot import FeedStatus

Prepare = Callable[[], Awaitable[Any]]
Body = Callable[[Any, asyncio.AbstractEventLoop], int]


def run_live(prepare: Prepare, body: Body) -> int:
    """``prepare()`` builds the engine (checks, confirmation, set-up) on a new loop; ``body``
    runs it on that loop (``loop.run_until_complete`` or Textual's ``app.run(loop=...)``).

    A plain loop, not ``asyncio.run``: its SIGINT handler would only cancel the main task, and
    a blocking ``input()`` at the confirmation prompt would ignore the first Ctrl-C."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    engine = None
    try:
        task = loop.create_task(prepare())
        try:
            engine = loop.run_until_complete(task)
        except KeyboardInterrupt:
            # Ctrl-C may land in the loop's own code rather than in prepare(): cancel it so
            # its clean-up (closing the HTTP session) still runs before the loop closes.
            # (Not when it is already done: a loop never stops for a future that ended in
            # KeyboardInterrupt, so run_until_complete would wait forever.)
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(task)
            raise
        return body(engine, loop)
    finally:
        if engine is not None:
            loop.run_until_complete(close_connections(engine))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()


async def close_connections(engine: Any) -> None:
    """After the engine stopped: the market feed's and the venue's HTTP sessions (an unclosed
    one makes aiohttp print a warning at exit)."""
    feed = getattr(engine, "feed", None)
    if feed is not None and hasattr(feed, "close"):
        with contextlib.suppress(Exception):
            await feed.close()
    venue = engine.venue
    with contextlib.suppress(Exception):
        await venue.close()
    client = getattr(venue, "client", None)
    if client is not None:
        with contextlib.suppress(Exception):
            await client.close_connection()


def ready_text(engine: Any) -> str:
    symbols = ", ".join(getattr(engine.venue, "symbols", []) or engine.config.symbols)
    text = (f"Live desk ready to trade {symbols}: user-data stream and market data "
            "connected.")
    rec = getattr(engine, "reconciliation", None)
    if rec is not None and rec.blocked:
        text += (" New entries wait until the startup differences are answered "
                 "(`tapedesk reconcile`).")
    return text


async def announce_ready(engine: Any, say: Callable[[str], None],
                         poll_s: float = 0.1) -> None:
    """Say once when both the user-data stream and the market data are connected."""
    venue = engine.venue
    while True:
        user = getattr(getattr(venue, "user_stream", None), "status", FeedStatus.LIVE)
        market = getattr(getattr(engine, "feed", None), "status", FeedStatus.LIVE)
        if getattr(venue, "_started", True) and user is FeedStatus.LIVE \
                and market is FeedStatus.LIVE:
            say(ready_text(engine))
            return
        await asyncio.sleep(poll_s)
