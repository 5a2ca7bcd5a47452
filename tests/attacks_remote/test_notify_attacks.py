"""Attacks on the notifier (issue #12) in a real engine: a halt after the rate limit is spent,
a service whose error answer echoes the URL (password in it) at DEBUG logging."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from tapedesk.engine.events import Explanation, ExplanationKind
from tapedesk.engine.notify_config import NotifyConfig
from tapedesk.engine.snapshot import DeskState, StateChanged

from tests.attacks_remote.echo_service import EchoingError
from tests.notify.local_hook import Hook
from tests.notify.test_notifier import _announce, _desk, _fill

PASSWORD = "pw-Zx81-never-in-a-log"


async def test_a_halt_is_not_stuck_behind_the_fills_rate_limit(tmp_path: Path) -> None:
    """A user who wants fills at once (batch_window_s = 0) spends the bucket on a flood of
    1,000 fills; the halt right after must still reach the phone promptly, not ~30 s later
    when the 2-a-minute bucket refills."""
    hook = Hook()
    cfg = NotifyConfig(urls=["hook"], batch_window_s=0)  # burst 3, 2 a minute: defaults
    eng, notifier = await _desk(tmp_path, cfg, {"hook": hook.url()})
    try:
        for i in range(1000):
            await _announce(eng, _fill(i))
            if i % 250 == 249:
                await asyncio.sleep(0.05)
        assert await hook.until(lambda r: len(r) >= 3, timeout=10)
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        await _announce(eng, StateChanged(DeskState.HALTED, "halted from the keyboard"))
        assert await hook.until(lambda r: "Desk HALTED" in hook.bodies(), timeout=8), \
            f"no halt after {time.monotonic() - t0:.1f} s; {len(hook.received)} messages"
    finally:
        await notifier.close()
        await eng.stop()
        hook.close()


async def test_a_halt_is_not_stuck_behind_a_burst_of_errors(tmp_path: Path) -> None:
    """The venue rejects a few orders (ERROR lines: urgent, each spends a token), then the
    trader halts: the halt must not wait for the bucket."""
    hook = Hook()
    cfg = NotifyConfig(urls=["hook"])
    eng, notifier = await _desk(tmp_path, cfg, {"hook": hook.url()})
    try:
        for i in range(4):
            await _announce(eng, Explanation(0, ExplanationKind.ERROR,
                                             f"Order rejected by the venue ({i}).",
                                             symbol="BTCUSDT"))
            await hook.until(lambda r, n=i: len(r) >= min(n + 1, 3), timeout=5)
        assert len(hook.received) == 3
        await _announce(eng, StateChanged(DeskState.HALTED, "halted from the phone"))
        assert await hook.until(lambda r: "Desk HALTED" in hook.bodies(), timeout=8), \
            hook.bodies()
    finally:
        await notifier.close()
        await eng.stop()
        hook.close()


async def test_an_error_answer_echoing_the_url_never_reaches_a_log(tmp_path: Path,
                                                                   caplog) -> None:
    caplog.set_level(logging.DEBUG)
    svc = EchoingError(500)
    url = f"json://desk:{PASSWORD}@127.0.0.1:{svc.port}/hook?token={PASSWORD}x"
    cfg = NotifyConfig(urls=["svc"], batch_window_s=0)
    eng, notifier = await _desk(tmp_path, cfg, {"svc": url})
    # The companion's own path: its secrets come from the URLs it loads.
    from tapedesk.engine.notify_secrets import guard_logs, secret_parts

    notifier._guard = guard_logs(secret_parts(url))
    try:
        await _announce(eng, StateChanged(DeskState.HALTED, "halted"))
        svc_obj = notifier.services[0]
        for _ in range(200):
            if svc_obj.failed:
                break
            await asyncio.sleep(0.02)
        assert svc.requests >= 1 and svc_obj.failed == 1
    finally:
        await notifier.close()
        await eng.stop()
        svc.close()
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert "notification to svc failed" in logged
    assert PASSWORD not in logged
    db = next((tmp_path / "d").glob("*.db")).read_bytes()
    assert PASSWORD.encode() not in db
