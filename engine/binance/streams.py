"""Websocket streams through python-binance's socket manager, supervised by the desk.

python-binance 1.0.37's ``ReconnectingWebsocket`` reconnects on its own a few times, but when
its queue fills (``max_queue_size``) or its retries run out it puts ``{"e": "error"}`` in the
queue and stops reading for good, and it never notices a socket that stays open but goes
silent. So the desk takes reconnection over:

- each socket runs with ``MAX_RECONNECTS = 0``: any drop surfaces at once as an error message;
- a task of its own drains the socket's queue and hands each message to a synchronous callback
  that only parses and enqueues, so the library queue stays near empty (overflow *avoided*);
  should it overflow anyway, that is one more error message, *handled* like a drop;
- on any error message, a dead read loop, no message for ``restart_after`` seconds, or the
  socket's age nearing Binance's 24 h connection limit, the supervisor closes the socket, waits
  an exponential backoff with jitter, and opens a new one (and the caller resyncs over REST);
- no message for ``stale_after`` seconds marks the stream STALE for the header and risk gate.

Ping/pong: the ``websockets`` client answers Binance's pings itself and pings the server every
``ping_interval`` seconds, closing a connection whose pong does not come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from binance.exceptions import ReadLoopClosed
from tapedesk.engine.snapshot import FeedStatus

log = logging.getLogger(__name__)

_POLL_S = 0.25  # how often the supervisor looks at the clock while waiting for a message


class Restart(Exception):
    """Close this socket and open a new one (the text says why, for the log)."""


OnMessage = Callable[[dict[str, Any]], None]
OnStatus = Callable[[FeedStatus, str], None]


class StreamSupervisor:
    """Keeps one python-binance socket alive; ``open_socket`` builds a fresh one each time."""

    def __init__(
        self,
        name: str,
        open_socket: Callable[[], Any],
        on_message: OnMessage,
        on_status: OnStatus | None = None,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        stale_after: float | None = 10.0,
        restart_after: float | None = 30.0,
        max_age: float | None = 23.5 * 3600,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._open_socket = open_socket
        self._on_message = on_message
        self._on_status = on_status
        self._on_connected = on_connected
        self.stale_after = stale_after
        self.restart_after = restart_after
        self.max_age = max_age
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self.status = FeedStatus.CONNECTING
        self.last_message: float | None = None
        self.connects = 0
        self.restarts: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._restart_requested: str | None = None
        self._got_data = False  # since the current connection opened: resets the backoff

    # -- public ------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"stream-{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._set(FeedStatus.DISCONNECTED, "stopped")

    def request_restart(self, why: str) -> None:
        """Ask for a new connection (e.g. listenKeyExpired seen by the message handler)."""
        self._restart_requested = why

    def age_s(self) -> float | None:
        return None if self.last_message is None else self._monotonic() - self.last_message

    # -- internals -----------------------------------------------------------------------
    def _set(self, status: FeedStatus, text: str) -> None:
        if status is not self.status:
            self.status = status
            log.info("%s stream: %s (%s)", self.name, status.value, text)
            if self._on_status:
                self._on_status(status, text)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter in [0.5, 1.5) × base·2^attempt, capped."""
        raw = min(self.backoff_max, self.backoff_base * (2 ** attempt))
        return raw * (0.5 + self._rng.random())

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            sock = self._open_socket()
            sock.MAX_RECONNECTS = 0  # the supervisor reconnects, not the library
            sock.TIMEOUT = _POLL_S  # so closing never waits long for a blocked recv
            self._got_data = False
            try:
                try:
                    await sock.__aenter__()
                except Exception as exc:
                    raise Restart(f"connect failed: {type(exc).__name__}: {exc}") from None
                self.connects += 1
                opened = self._monotonic()
                self.last_message = opened
                if self._on_connected:
                    await self._on_connected()
                self._set(FeedStatus.LIVE, "connected")
                await self._pump(sock, opened)
            except Restart as why:
                self.restarts.append(str(why))
                log.warning("%s stream: reconnecting: %s", self.name, why)
            except asyncio.CancelledError:
                await self._close(sock)
                raise
            except Exception as exc:
                self.restarts.append(f"{type(exc).__name__}: {exc}")
                log.exception("%s stream: unexpected error", self.name)
            await self._close(sock)
            if self._stopping:
                break
            attempt = 0 if self._got_data else attempt + 1
            self._set(FeedStatus.RECONNECTING, self.restarts[-1] if self.restarts else "")
            await asyncio.sleep(self.backoff(attempt))

    async def _pump(self, sock: Any, opened: float) -> None:
        """Runs until something calls for a new connection (always ends in ``Restart``)."""
        while True:
            if self._restart_requested:
                why, self._restart_requested = self._restart_requested, None
                raise Restart(why)
            try:
                msg = await asyncio.wait_for(sock.recv(), timeout=_POLL_S)
            except TimeoutError:
                self._check_clock(opened)
                continue
            except ReadLoopClosed:
                raise Restart(f"read loop closed ({self._last_error(sock)})") from None
            if isinstance(msg, dict) and msg.get("e") == "error":
                raise Restart(f"{msg.get('type')}: {msg.get('m')}")
            self.last_message = self._monotonic()
            self._got_data = True
            if self.status is not FeedStatus.LIVE:
                self._set(FeedStatus.LIVE, "data flowing")
            self._on_message(msg)
            self._check_clock(opened)

    @staticmethod
    def _last_error(sock: Any) -> str:
        """Why the library stopped reading: its error message may still sit in its queue
        (behind data it will never hand out once the read loop is gone)."""
        pending = list(getattr(getattr(sock, "_queue", None), "_queue", []))
        errors = [m for m in pending if isinstance(m, dict) and m.get("e") == "error"]
        return f"{errors[-1].get('type')}: {errors[-1].get('m')}" if errors else "no reason given"

    def _check_clock(self, opened: float) -> None:
        now = self._monotonic()
        if self.max_age is not None and now - opened > self.max_age:
            raise Restart("planned reconnect before Binance's 24 h connection limit")
        if self.last_message is None:
            return
        quiet = now - self.last_message
        if self.restart_after is not None and quiet > self.restart_after:
            raise Restart(f"no message for {quiet:.1f} s")
        if self.stale_after is not None and quiet > self.stale_after:
            self._set(FeedStatus.STALE, f"no message for {quiet:.1f} s")

    async def _close(self, sock: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sock.__aexit__(None, None, None), timeout=3.0)
