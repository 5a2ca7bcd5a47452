"""ReplayFeed: what it yields, in what order and how it is paced (pacing via an injected clock,
so no test depends on the machine's speed)."""

from __future__ import annotations

import asyncio
import itertools

from tapedesk.engine.events import Bar, Trade
from tapedesk.engine.feeds import Feed, ReplayFeed
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.snapshot import FeedStatus


def trades(times: list[int]) -> list[Trade]:
    return [Trade("BTCUSDT", t, 100.0 + i, 1.0, False) for i, t in enumerate(times)]


async def collect(feed: ReplayFeed, limit: int | None = None) -> list[list]:
    out = []
    async for batch in feed.batches():
        out.append(batch)
        if limit is not None and sum(map(len, out)) >= limit:
            await feed.close()
            break
    return out


class FakeTime:
    """A clock that only moves when the feed sleeps: records every requested sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_speed_zero_yields_every_event_of_the_file_in_bounded_batches() -> None:
    feed = ReplayFeed(SAMPLE_BARS_1M, speed=0, max_batch=1000)
    assert isinstance(feed, Feed)
    assert feed.status is FeedStatus.REPLAY
    assert feed.symbols == ("BTCUSDT",)
    batches = await collect(feed)
    events = [e for b in batches for e in b]
    assert len(events) == 45_031
    assert max(map(len, batches)) == 1000
    assert all(b.ts > a.ts for a, b in itertools.pairwise(events))
    assert feed.status is FeedStatus.ENDED


async def test_speed_zero_still_lets_other_tasks_run_between_batches() -> None:
    ticks = 0
    stop = False

    async def other() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(other())
    feed = ReplayFeed(trades(list(range(5000))), speed=0, max_batch=100)
    batches = await collect(feed)
    stop = True
    await task
    assert len(batches) == 50
    assert ticks >= 45  # the other task ran between (almost) every pair of batches


async def test_pacing_follows_event_time_divided_by_speed() -> None:
    t = FakeTime()
    # 0 s, 0.001 s (same moment at speed 2), 1 s, 3 s of event time.
    feed = ReplayFeed(trades([0, 1, 1000, 3000]), speed=2.0, clock=t.clock, sleep=t.sleep)
    batches = await collect(feed)
    assert [[e.ts for e in b] for b in batches] == [[0, 1], [1000], [3000]]
    assert sum(t.sleeps) == 1.5  # 3 s of data at 2x
    assert max(t.sleeps) == 1.0  # 1000 ms → 3000 ms


async def test_loop_restarts_with_shifted_timestamps_that_keep_increasing() -> None:
    source = [Bar("BTCUSDT", o, o + 59_999, 1, 2, 0.5, 1.5) for o in (0, 60_000, 120_000)]
    feed = ReplayFeed(source, speed=0, loop=True)
    events = [e for b in await collect(feed, limit=8) for e in b]
    assert [e.open_ts for e in events[:8]] == [0, 60_000, 120_000, 180_000, 240_000, 300_000,
                                              360_000, 420_000]
    assert all(e.ts == e.open_ts + 59_999 for e in events)
    assert source[0].open_ts == 0  # the originals are not mutated
    assert feed.status is FeedStatus.ENDED


async def test_skip_until_ts_drops_only_earlier_events() -> None:
    feed = ReplayFeed(trades([10, 20, 30, 30, 40]), skip_until_ts=30)
    events = [e for b in await collect(feed) for e in b]
    assert [e.ts for e in events] == [30, 30, 40]


async def test_start_and_end_cut_a_file_replay() -> None:
    start = 1641772800000  # 2022-01-10 00:00 UTC
    feed = ReplayFeed(SAMPLE_BARS_1M, start_ms=start, end_ms=start + 3_600_000)
    events = [e for b in await collect(feed) for e in b]
    assert len(events) == 60
    assert events[0].open_ts == start


async def test_close_ends_the_replay_early() -> None:
    feed = ReplayFeed(trades(list(range(10_000))), max_batch=10)
    got = await collect(feed, limit=25)
    assert sum(map(len, got)) == 30
    assert feed.status is FeedStatus.ENDED


async def test_a_replayed_capture_drives_the_real_engine_to_its_end() -> None:
    from tapedesk.engine.config import DeskConfig
    from tapedesk.engine.engine import Engine
    from tapedesk.engine.paper_venue import PaperVenue
    from tapedesk.engine.sample_data import SAMPLE_STREAM

    start = 1723161256000
    feed = ReplayFeed(SAMPLE_STREAM, start_ms=start, end_ms=start + 10_000)
    engine = Engine(config=DeskConfig(), venue=PaperVenue(), strategies=[], feed=feed)
    await engine.run()
    await engine.stop()
    assert feed.events_emitted > 1000
    assert start <= engine.now() < start + 10_000
    assert engine.snapshot().feed_status is FeedStatus.ENDED
    assert engine.snapshot().last_prices["BTCUSDT"] > 0
