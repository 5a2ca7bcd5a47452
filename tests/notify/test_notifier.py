"""Notifications reach a local stand-in of a service's API (Apprise ``json://`` on 127.0.0.1),
each kind once, folded and rate-limited under a flood, and a dead service costs nothing.

Apprise's ``tgram://`` cannot be pointed at a local host (its plugin hard-codes
``https://api.telegram.org/bot``), so the stand-in speaks Apprise's ``json://`` instead.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from tapedesk.engine.assembly import build_replay_engine
from tapedesk.engine.events import (
    ExplanationKind,
    Fill,
    Liquidity,
    OrderRole,
    RoundTrip,
    Side,
)
from tapedesk.engine.notifier import Notifier, build_services
from tapedesk.engine.notify_config import EVENT_KINDS, NotifyConfig
from tapedesk.engine.snapshot import DeskState, StateChanged

from tests.engine.helpers import write_sample_csv
from tests.notify.local_hook import Blackhole, Hook, dead_url


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def _fill(i: int, role: OrderRole = OrderRole.ENTRY) -> Fill:
    return Fill(f"c{i}", "BTCUSDT", "BUY", Decimal("0.01"), Decimal("43000.5"), Decimal("0.2"),
                1_700_000_000_000 + i, Liquidity.TAKER, role, trade_id=str(i))


def _trip() -> RoundTrip:
    return RoundTrip("BTCUSDT", Side.LONG, Decimal("0.01"), Decimal("43000"), Decimal("42900"),
                     1, 2, Decimal("-1"), Decimal("0.4"), Decimal(0), Decimal("-1.4"),
                     "ema_cross", "stop-loss")


async def _desk(tmp_path: Path, cfg: NotifyConfig, urls: dict[str, str]):
    eng = build_replay_engine(write_sample_csv(tmp_path / "btc.csv", days=1),
                              data_dir=tmp_path / "d", speed=0, control=False)
    await eng.start()
    services, problems = build_services(cfg, urls)
    assert not problems
    notifier = Notifier(eng, services, cfg)
    await notifier.start()
    return eng, notifier


async def _announce(eng, *items) -> None:
    eng._outbox.extend(items)
    await eng.commit()


async def test_every_kind_is_delivered_once(tmp_path: Path, hook: Hook) -> None:
    cfg = NotifyConfig(urls=["hook"], batch_window_s=0, burst=100, per_minute=600,
                       unprotected_after_s=0, storm_reconnects=3, storm_window_s=60)
    eng, notifier = await _desk(tmp_path, cfg, {"hook": hook.url()})
    restarts: list[str] = []
    eng.feed = SimpleNamespace(inner=SimpleNamespace(supervisors=[SimpleNamespace(
        restarts=restarts)]))
    notifier._restarts_seen = 0
    try:
        await _announce(eng, _fill(1))
        await _announce(eng, _trip())
        await _announce(eng, StateChanged(DeskState.DAY_LOCKED, "day locked: loss cap reached"))
        eng.explain(ExplanationKind.ERROR, "Order rejected: -2019 margin is insufficient.")
        await eng.commit()
        await eng.emergency_stop()  # the real procedure: HALTED, then the verified verdict
        eng.orders.unprotected_since["ETHUSDT"] = eng.now()
        restarts.extend(["connect failed: a", "connect failed: b", "connect failed: c"])
        want = ["Entry filled: BUY 0.01 BTCUSDT", "Closed long BTCUSDT", "DAY LOCKED",
                "Order rejected: -2019", "Desk HALTED", "Step 3/3 verify", "UNPROTECTED ETHUSDT",
                "Reconnect storm: 3 stream reconnects"]
        assert await hook.until(lambda r: all(w in hook.bodies() for w in want)), hook.bodies()
        await asyncio.sleep(1.2)  # two watch periods: nothing may be said a second time
        text = hook.bodies()
        for w in want:
            assert text.count(w) == 1, (w, text)
        assert set(EVENT_KINDS) == {"fill", "exit", "halt", "day_lock", "unprotected",
                                    "reconnect_storm", "error"}
    finally:
        await notifier.close()
        await eng.stop()


async def test_a_kind_left_out_of_events_is_not_sent(tmp_path: Path, hook: Hook) -> None:
    cfg = NotifyConfig(urls=["hook"], events=["halt"], batch_window_s=0)
    eng, notifier = await _desk(tmp_path, cfg, {"hook": hook.url()})
    try:
        await _announce(eng, _fill(1), StateChanged(DeskState.HALTED, "desk halted"))
        assert await hook.until(lambda r: "Desk HALTED" in hook.bodies())
        await asyncio.sleep(0.3)
        assert "Entry filled" not in hook.bodies()
    finally:
        await notifier.close()
        await eng.stop()


async def test_a_flood_of_1000_fills_is_folded_and_rate_limited(tmp_path: Path,
                                                                hook: Hook) -> None:
    # No batch window: only the bucket stands between a flood and the service.
    cfg = NotifyConfig(urls=["hook"], batch_window_s=0, burst=2, per_minute=60)
    eng, notifier = await _desk(tmp_path, cfg, {"hook": hook.url()})
    try:
        t0 = time.monotonic()
        for i in range(1000):
            await _announce(eng, _fill(i))
            if i % 100 == 99:
                await asyncio.sleep(0.1)  # the flood spans a second and a half
        assert await hook.until(lambda r: "1000 fills" in hook.bodies()
                             or _total(r) == 1000, timeout=10), hook.bodies()
        elapsed = time.monotonic() - t0
        # 2 at once, then one a second: the server never sees more than the bucket allows.
        assert len(hook.received) <= 2 + elapsed * 1 + 1, (len(hook.received), elapsed)
        assert len(hook.received) <= 4
        assert _total(hook.received) == 1000, hook.bodies()
        assert "fills on BTCUSDT in" in hook.bodies()
    finally:
        await notifier.close()
        await eng.stop()


def _total(received: list[dict]) -> int:
    """Fills the messages account for: "N fills on …" lines plus single fill lines."""
    import re

    n = 0
    for m in received:
        msg = m.get("message", "")
        folded = re.findall(r"^(\d+) fills on", msg, re.M)
        n += sum(int(x) for x in folded)
        if not folded:
            n += len(re.findall(r"^Entry filled", msg, re.M))
    return n


async def test_a_dead_service_neither_blocks_the_desk_nor_the_others(tmp_path: Path,
                                                                     hook: Hook) -> None:
    hole = Blackhole()
    cfg = NotifyConfig(urls=["hole", "refused", "hook"], batch_window_s=0, burst=5)
    eng, notifier = await _desk(tmp_path, cfg, {"hole": hole.url(), "refused": dead_url(),
                                                "hook": hook.url()})
    try:
        t0 = time.monotonic()
        await _announce(eng, StateChanged(DeskState.HALTED, "desk halted"))
        took = time.monotonic() - t0
        assert took < 0.5, took  # the commit does not wait for any service
        assert await hook.until(lambda r: "Desk HALTED" in hook.bodies(), timeout=5)
        refused = next(s for s in notifier.services if s.name == "refused")
        for _ in range(100):
            if refused.failed:
                break
            await asyncio.sleep(0.05)
        assert refused.failed == 1 and refused.sent == 0
        t1 = time.monotonic()
        await notifier.close()  # a send stuck on the blackhole does not hold the close up
        assert time.monotonic() - t1 < 3.5
    finally:
        hole.close()
        await eng.stop()
