"""Companions: services a running desk hosts beside its engine, on the engine's own loop
(notifications, the local API, the Telegram bot).

Each entry of ``FACTORIES`` names ``module:function``; the function takes the engine and
returns an object with ``async start()`` and ``async close()``, or None when its config
section leaves it off. Only desks a user runs (those with a control socket) host companions;
backtests and tests that build an engine by hand do not. A companion that fails to start or
to close is explained in the log and never stops the desk: trading comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from typing import Any, Protocol

log = logging.getLogger("tapedesk.engine")
START_GRACE_S = 3.0

#: ``module:function`` of each companion factory, started in this order.
FACTORIES: list[str] = [
    "tapedesk.engine.notifier:notifier",
    "tapedesk.engine.telegram_bot:telegram_bot",
    "tapedesk.engine.api:companion",
]


class Companion(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


async def start_companions(engine: Any) -> list[Companion]:
    """Build each companion and start it in a task of its own: the desk trades meanwhile.
    A Bot API or service that is unreachable, or a keyring waiting on D-Bus, must not hold
    up the desk's start (it held it ~5 s per dead Bot API, unbounded for a stuck keyring)."""
    started: list[Companion] = []
    for spec in FACTORIES:
        module, _, func = spec.partition(":")
        try:
            companion = getattr(importlib.import_module(module), func)(engine)
        except Exception as exc:
            _failed(engine, spec, exc)
            continue
        if companion is not None:
            started.append(_Beside(engine, spec, companion))
    return started


def _failed(engine: Any, spec: str, exc: Exception) -> None:
    from tapedesk.engine.events import ExplanationKind

    # One line, no traceback: the desk trades on, and the ERROR below says why.
    log.warning("companion %s did not start: %s", spec, exc)
    log.debug("companion %s start failure", spec, exc_info=True)
    engine.explain(ExplanationKind.ERROR,
                   f"{spec.split(':')[0].rsplit('.', 1)[-1]} did not start: {exc}")


class _Beside:
    """A companion starting beside the desk; ``close`` ends the start or the companion."""

    def __init__(self, engine: Any, spec: str, companion: Companion) -> None:
        self.spec, self.companion, self.started = spec, companion, False
        self.task = asyncio.create_task(self._start(engine), name=f"start {spec}")

    async def _start(self, engine: Any) -> None:
        try:
            await self.companion.start()
        except Exception as exc:
            _failed(engine, self.spec, exc)
        else:
            self.started = True
        with contextlib.suppress(Exception):  # what the start said, now: not at the next bar
            await engine.commit()

    async def start(self) -> None:
        await asyncio.shield(self.task)

    async def close(self) -> None:
        # A start under way gets a bounded moment to finish, so what it was told (a
        # replay's fills, a halt just before quitting) can still go out.
        await asyncio.wait({self.task}, timeout=START_GRACE_S)
        if not self.task.done():
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
        if self.started:
            await self.companion.close()

    def __repr__(self) -> str:
        return repr(self.companion)


async def close_companions(companions: list[Companion]) -> None:
    for companion in reversed(companions):
        try:
            await companion.close()
        except Exception:
            log.warning("companion %r did not close cleanly", companion)
            log.debug("companion close failure", exc_info=True)


async def started(companions: list[Companion], name: str) -> Any | None:
    """The companion whose class is ``name`` once its start has ended (None if there is
    none): a script or test that talks to it waits here, since it starts beside the desk."""
    for companion in companions:
        inner = getattr(companion, "companion", companion)
        if type(inner).__name__ == name:
            await companion.start()
            return inner
    return None
