"""Companions: services a running desk hosts beside its engine, on the engine's own loop
(notifications, the local API, the Telegram bot).

Each entry of ``FACTORIES`` names ``module:function``; the function takes the engine and
returns an object with ``async start()`` and ``async close()``, or None when its config
section leaves it off. Only desks a user runs (those with a control socket) host companions;
backtests and tests that build an engine by hand do not. A companion that fails to start or
to close is explained in the log and never stops the desk: trading comes first.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Protocol

log = logging.getLogger("tapedesk.engine")

#: ``module:function`` of each companion factory, started in this order.
FACTORIES: list[str] = [
    "tapedesk.engine.notifier:notifier",
    "tapedesk.engine.telegram_bot:telegram_bot",
]


class Companion(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


async def start_companions(engine: Any) -> list[Companion]:
    from tapedesk.engine.events import ExplanationKind

    started: list[Companion] = []
    for spec in FACTORIES:
        module, _, func = spec.partition(":")
        try:
            companion = getattr(importlib.import_module(module), func)(engine)
            if companion is None:
                continue
            await companion.start()
        except Exception as exc:
            # One line, no traceback: the desk trades on, and the ERROR below says why.
            log.warning("companion %s did not start: %s", spec, exc)
            log.debug("companion %s start failure", spec, exc_info=True)
            engine.explain(ExplanationKind.ERROR,
                           f"{spec.split(':')[0].rsplit('.', 1)[-1]} did not start: {exc}")
            continue
        started.append(companion)
    return started


async def close_companions(companions: list[Companion]) -> None:
    for companion in reversed(companions):
        try:
            await companion.close()
        except Exception:
            log.warning("companion %r did not close cleanly", companion, exc_info=True)
