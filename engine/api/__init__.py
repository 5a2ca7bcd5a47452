"""The local API (issue #12): HTTP and a websocket beside a running desk, for scripts and
dashboards. Off by default; ``[api] enabled`` or ``tapedesk serve`` turns it on.

Modules: ``config`` (the ``[api]`` section), ``token`` (the bearer token in the keyring),
``server`` (the companion: aiohttp app, auth, start/close), ``routes`` (the handlers and
their table), ``live`` (the ``/ws/live`` fan-out), ``prometheus`` (``/metrics``) and
``openapi`` (the description served at ``/api/openapi.json``). Nothing here is imported by
``tapedesk --help``: the config model is the only module the desk loads when the API is off.
"""

from __future__ import annotations

from typing import Any

#: ``tapedesk serve`` sets this: the API on for this process, whatever the config says.
FORCED: Any = None


def companion(engine: Any) -> Any:
    """engine.companions' factory: the server when ``[api] enabled`` (or ``serve``), else
    None. The server's modules (aiohttp's web side) load only when it is on."""
    cfg = FORCED or getattr(engine.config, "api", None)
    if cfg is None or not cfg.enabled:
        return None
    from tapedesk.engine.api.server import ApiServer

    return ApiServer(engine, cfg)
