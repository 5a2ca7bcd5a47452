"""The local API as a desk companion (engine.companions): an aiohttp server on the engine's
own event loop, every request checked against the bearer token from the keyring.

No access log: request lines are nobody's business, and the Authorization header is never
read anywhere but ``TokenCheck``. A handler's failure answers 500 with one line and is logged
without the request, so no header can ride along into a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections import deque
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server
from tapedesk.engine.api.config import ApiConfig
from tapedesk.engine.api.live import LiveHub
from tapedesk.engine.api.routes import ApiRoutes, error
from tapedesk.engine.api.token import ApiToken, ensure_token, load_token

log = logging.getLogger("tapedesk.api")

#: How often the token is read again from the keyring (a rotation takes effect by then).
TOKEN_REFRESH_S = 5.0
#: Event-loop lag is sampled this often; the worst of the last minute is kept.
LAG_EVERY_S = 0.25


class TokenCheck:
    """The current token, re-read from the keyring now and then (never per request: a
    Secret Service round trip is milliseconds). A token deleted from the keyring stops
    every request; a keyring that cannot be read keeps the last token known."""

    def __init__(self, token: ApiToken | None, backend: Any = None) -> None:
        self.token = token
        self.backend = backend
        self._read_at = time.monotonic()
        self._lock = asyncio.Lock()

    async def accepts(self, presented: str) -> bool:
        if time.monotonic() - self._read_at > TOKEN_REFRESH_S:
            await self._refresh()
        token = self.token
        return token is not None and token.matches(presented)

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._read_at <= TOKEN_REFRESH_S:
                return
            try:
                self.token = await asyncio.to_thread(load_token, self.backend)
            except Exception as exc:  # KeyringUnavailable's text is scrubbed of secrets
                log.warning("API token not re-read from the keyring (%s); keeping the last one",
                            type(exc).__name__)
            self._read_at = time.monotonic()


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _PlainErrorHandler(RequestHandler):
    """aiohttp answers a request its parser refuses (a control byte in a header, a header
    over 8 KiB) with a 400 whose body quotes the offending line: the bearer token with it,
    to the sender and any proxy that logs bodies. Here such a body names the status only."""

    __slots__ = ()

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> Any:
        if status != 500:
            message = f"{status} {HTTPStatus(status).phrase}"
        return super().handle_error(request, status, exc, message)


class _PlainErrorServer(Server):
    """Builds ``_PlainErrorHandler``s (aiohttp has no public hook for the handler class; its
    own ``Server.__call__`` is this line with ``RequestHandler``)."""

    def __call__(self) -> RequestHandler:
        try:
            return _PlainErrorHandler(self, loop=self._loop, **self._kwargs)
        except (AttributeError, TypeError):  # another aiohttp: its own handler, still works
            return super().__call__()


class _WithheldLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's request-handler logger, minus what a request carried. aiohttp logs a
    malformed request (a header too long, a bad byte in it) with a traceback whose text
    quotes the offending header line: ``Authorization: Bearer <token>...``. Here it is one
    line naming only the exception's type, at WARNING (a client's fault, not the desk's)."""

    def log(self, level: int, msg: object, *args: object, exc_info: object = None,
            **kwargs: object) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else (
            sys.exc_info()[1] if exc_info else None)
        what = f" ({type(exc).__name__}; request not logged: it may hold the API token)" \
            if exc is not None else ""
        self.logger.log(min(level, logging.WARNING), f"API: {msg}{what}", *args)


class LoopLag:
    """How late the loop wakes from a short sleep: the desk's own responsiveness."""

    def __init__(self) -> None:
        self.last = 0.0
        self._window: deque[float] = deque(maxlen=int(60 / LAG_EVERY_S))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    def worst(self) -> float:
        return max(self._window, default=0.0)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_EVERY_S)
            self.last = max(0.0, loop.time() - before - LAG_EVERY_S)
            self._window.append(self.last)


class ApiServer:
    def __init__(self, engine: Any, cfg: ApiConfig, backend: Any = None) -> None:
        self.engine = engine
        self.cfg = cfg
        self.backend = backend  # keyring backend (None: the user's own)
        self.hub = LiveHub(engine)
        self.lag = LoopLag()
        self.tokens = TokenCheck(None, backend)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.cfg.host}]" if ":" in self.cfg.host else self.cfg.host
        return f"http://{host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.add_routes(ApiRoutes(self).table())
        return app

    async def start(self) -> None:
        from tapedesk.engine.keys import KeyringUnavailable

        try:
            token, created = await asyncio.to_thread(ensure_token, self.backend)
        except KeyringUnavailable as exc:  # its help text is long: one line here
            raise RuntimeError(f"no API token: {exc.reason}; the API keeps its token in the OS "
                               "keyring (`tapedesk api token` says how)") from None
        self.tokens = TokenCheck(token, self.backend)
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False,
                               logger=_WithheldLog(logging.getLogger("tapedesk.api.http")))
        await runner.setup()
        if runner.server is not None:
            runner.server.__class__ = _PlainErrorServer
        try:
            site = web.TCPSite(runner, self.cfg.host, self.cfg.port, reuse_address=True)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(f"cannot listen on {self.cfg.host}:{self.cfg.port}: "
                          f"{exc.strerror or exc}") from None
        self._runner = runner
        self.port = runner.addresses[0][1]
        self.hub.start()
        self.lag.start()
        from tapedesk.engine.events import ExplanationKind

        if not _loopback(self.cfg.host):  # the token crosses the network in clear
            self.engine.explain(ExplanationKind.ERROR, f"The local API listens on {self.url}, "
                                "beyond this machine, over plain HTTP: anyone on the path "
                                "sees the bearer token. Use host = \"127.0.0.1\" and an ssh "
                                "tunnel (docs/api.md) unless this network is yours alone.")
        note = (" A new API token was stored in the keyring;" if created else "")
        self.engine.explain(ExplanationKind.DESK,
                            f"Local API listening on {self.url} (try {self.url}/api/status)."
                            f"{note} `tapedesk api token` shows the bearer token.")

    async def close(self) -> None:
        await self.lag.stop()
        await self.hub.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Every route, known or not, needs the token: an unknown path answers 401 too."""
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not await self.tokens.accepts(presented.strip()):
            response = error(401, "missing or wrong bearer token (`tapedesk api token` "
                                  "shows it; send Authorization: Bearer <token>)")
            response.headers["WWW-Authenticate"] = 'Bearer realm="tapedesk"'
            return response
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 400:
                return error(exc.status, exc.reason)
            raise
        except Exception as exc:
            log.error("API %s %s failed: %s: %s", request.method, request.path,
                      type(exc).__name__, exc)
            return error(500, f"{type(exc).__name__}: {exc}")
