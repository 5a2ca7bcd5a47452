"""Shared Pilot helpers: wait on workers and engine readiness instead of sleeping."""

from __future__ import annotations

import asyncio

from tapedesk.tui.app import DeskApp

ENGINE_GROUPS = {"engine"}  # long-lived: engine.run() never completes while the desk is up


async def ready(pilot, timeout: float = 10.0) -> DeskApp:
    app: DeskApp = pilot.app
    async with asyncio.timeout(timeout):
        while not app.engine_ready:
            await pilot.pause(0.01)
    await settle(pilot)
    return app


async def replayed(pilot) -> DeskApp:
    """Ready, and the engine has consumed its whole (finite) replay."""
    app = await ready(pilot)
    runs = [w for w in app.workers if w.name == "engine-run"]
    await app.workers.wait_for_complete(runs)
    await settle(pilot)
    return app


async def pin_log_to_end(pilot) -> None:
    """Redraw the log from its history now that its size is known, and pin it to the end
    until the scroll position stops moving (its virtual size settles a frame late)."""
    app: DeskApp = pilot.app
    app.explain.set_filter("all")
    last = None
    for _ in range(10):
        await pilot.pause()
        app.explain.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        now = (app.explain.scroll_y, app.explain.max_scroll_y, len(app.explain.lines))
        if now == last:
            break
        last = now


async def settle(pilot) -> None:
    """Let key handlers run, await every short-lived worker, then paint one frame."""
    app: DeskApp = pilot.app
    await pilot.pause()
    for _ in range(3):
        pending = [w for w in app.workers if w.group not in ENGINE_GROUPS and not w.is_finished]
        if not pending:
            break
        await asyncio.gather(*(w.wait() for w in pending), return_exceptions=True)
        await pilot.pause()
    app.flush_log_now = True
    app.refresh_view()
    await pilot.pause()


def screen_text(app: DeskApp) -> str:
    """Everything visible, as plain text (via the SVG export, stripped of markup)."""
    import html
    import re
    from collections import defaultdict

    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = defaultdict(list)
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows[float(m.group(2))].append((float(m.group(1)), html.unescape(m.group(3))))
    return "\n".join(
        "".join(t for _, t in sorted(rows[y])).replace("\xa0", " ") for y in sorted(rows)
    )


def feed_gate(engine) -> asyncio.Event:
    """Market data flows while the returned event is set. Cleared, the replay stops before
    its next batch: a test can act on an open trade (press q, read the dialog) without
    racing the bar that closes it. Uses the feed's injectable sleep (ReplayFeed(sleep=))."""
    gate = asyncio.Event()
    gate.set()
    feed = engine.feed
    original = feed._sleep

    async def gated(delay: float) -> None:
        await gate.wait()
        await original(delay)
        await gate.wait()  # cleared while this sleep ran: still no next batch

    feed._sleep = gated
    return gate


async def hold_open_trade(pilot, engine, gate: asyncio.Event, limit_s: float = 60.0) -> None:
    """Wait until the engine holds a position, then stop the market data (gate cleared in
    the same loop turn, so no further bar can close it)."""
    async with asyncio.timeout(limit_s):
        while not engine.snapshot().positions:
            await pilot.pause(0.02)
    gate.clear()
    await settle(pilot)
