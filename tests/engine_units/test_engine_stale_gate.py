"""Stale live data closes the gate: strategies are not asked while the feed is silent.

Uses the real Engine with a wall clock and a live-like feed that delivers one bar and then
goes quiet (as a dead websocket would); the engine's own watchdog must notice.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tapedesk.engine.clock import WallClock
from tapedesk.engine.config import DeskConfig, RiskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.snapshot import FeedStatus

from tests.engine_units._helpers import T0, ScriptedStrategy, bar


class SilentAfterOneBar:
    """A live feed that sends one bar and then nothing until closed."""

    name = "silent"
    status = FeedStatus.LIVE
    symbols = ("ETHUSDT",)

    def __init__(self) -> None:
        self._closed = asyncio.Event()

    async def batches(self):
        yield [bar(0, 2000, 2000, 2000, 2000, start=T0)]
        await self._closed.wait()

    async def close(self) -> None:
        self._closed.set()


async def wait_for_gate(eng: Engine, word: str) -> str:
    for _ in range(100):  # up to ~5 s; normally the watchdog fires within 0.5 s
        gate = eng.snapshot().extra["gate"]
        if word in gate:
            return gate
        await asyncio.sleep(0.05)
    raise AssertionError(f"gate never mentioned {word!r}: {eng.snapshot().extra['gate']!r}")


async def run_stale_engine():
    cfg = DeskConfig(symbols=["ETHUSDT"], risk=RiskConfig(stale_after_s=0.2))
    eng = Engine(config=cfg, venue=PaperVenue(Decimal(10_000)), strategies=[ScriptedStrategy()],
                 feed=SilentAfterOneBar(), clock=WallClock(), mode="paper")
    task = asyncio.create_task(eng.run())
    return eng, task


async def stop(eng: Engine, task: asyncio.Task) -> None:
    await eng.stop()
    await asyncio.wait_for(task, 5)


async def test_a_silent_live_feed_closes_the_gate_as_stale():
    eng, task = await run_stale_engine()
    try:
        gate = await wait_for_gate(eng, "stale")
        assert gate.startswith("market data stale: last event")
        assert "(limit 0.2 s)" in gate
        assert eng.snapshot().feed_status is FeedStatus.STALE
    finally:
        await stop(eng, task)


async def test_pausing_and_resuming_while_data_is_stale_keeps_the_gate_closed():
    eng, task = await run_stale_engine()
    try:
        await wait_for_gate(eng, "stale")
        await eng.pause()
        await eng.resume()
        await asyncio.sleep(0.6)  # let the watchdog run at least once more
        assert "stale" in eng.snapshot().extra["gate"]
    finally:
        await stop(eng, task)
