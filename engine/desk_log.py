"""Where Python log records go while a desk owns the terminal.

Headless, records go to stderr at ``--log-level`` (set up by the CLI). While the TUI runs,
a line on stderr would be drawn over the app (python-binance logs every failed reconnect at
ERROR), so every handler writing to a terminal is taken off the root logger and records go
to a rotating file instead (``tapedesk paths`` shows it). Warnings and errors also reach
the desk's explanation log, rate-limited, so the trader sees them where they look.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tapedesk.engine.events import ExplanationKind

if TYPE_CHECKING:
    import asyncio  # annotations only: a backtest never starts an event loop

LOG_BYTES = 2_000_000
LOG_BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: One message (logger + format string) reaches the explanation log at most this often.
FORWARD_EVERY_S = 60.0
_SECRET = re.compile(r"(?i)(signature|listenkey|apikey|x-mbx-apikey|secret)([=:/]\s*)[^\s&\"',]+")
#: A user-data stream URL carries the listenKey as a path segment (``.../ws/<key>``).
_WS_KEY = re.compile(r"(/ws/)[A-Za-z0-9]{20,}")


def redact(text: str) -> str:
    """``text`` with signatures, listen keys and API keys masked (logs, explanations)."""
    return _WS_KEY.sub(r"\1***", _SECRET.sub(r"\1\2***", text))


class RedactSecrets(logging.Filter):
    """Masks request signatures, listen keys and API keys a library may put in a message."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = redact(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


class ExplainForwarder(logging.Handler):
    """WARNING and above → ``engine.explain`` (ERROR kind for errors, DESK for warnings).

    The same message is forwarded once per ``every_s``; repeats are counted and the count
    rides on the next one, so a reconnect loop cannot flood the explanation log; and at
    most ``per_window`` records of any kind per ``every_s`` (messages that embed changing
    numbers are all "new"), the rest counted in the next one forwarded. Records
    from other threads are handed to the engine's loop; nothing is forwarded before the
    loop runs or after the engine stopped (the log file still has them).
    """

    def __init__(self, engine: Any, every_s: float = FORWARD_EVERY_S, per_window: int = 10) -> None:
        super().__init__(logging.WARNING)
        self.engine = engine
        self.every_s = every_s
        self.per_window = per_window
        self._window = (0.0, 0)  # (start, records forwarded in it)
        self._dropped = 0
        self._last: dict[tuple[str, str], float] = {}
        self._repeats: dict[tuple[str, str], int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inside = threading.local()
        self._commits: set[asyncio.Future[None]] = set()

    def emit(self, record: logging.LogRecord) -> None:
        import asyncio

        if getattr(self._inside, "active", False):
            return  # a record raised while forwarding one: the file has it
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.every_s:
            self._repeats[key] = self._repeats.get(key, 0) + 1
            return
        start, count = self._window
        if now - start >= self.every_s:
            start, count = now, 0
        if count >= self.per_window:
            self._dropped += 1
            return
        self._window = (start, count + 1)
        self._last[key] = now
        if len(self._last) > 500:  # bounded: forget the oldest messages
            for old in sorted(self._last, key=self._last.__getitem__)[:250]:
                self._last.pop(old, None)
                self._repeats.pop(old, None)
        repeats = self._repeats.pop(key, 0)
        try:
            what = "" if record.levelno >= logging.ERROR else "warning, "
            text = f"{record.getMessage()} ({what}{record.name})"
        except Exception:  # a bad format string: the file handler reports it
            return
        if len(text) > 300:
            text = text[:297] + "…"
        if repeats:
            text += f" (and {repeats} more like it in the last {self.every_s:.0f} s)"
        if self._dropped:
            text += f" [{self._dropped} other log lines not shown here: see the log file]"
            self._dropped = 0
        kind = ExplanationKind.ERROR if record.levelno >= logging.ERROR else ExplanationKind.DESK
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            self._loop = running
            self._deliver(kind, text)
        elif self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._deliver, kind, text)

    def _deliver(self, kind: ExplanationKind, text: str) -> None:
        import asyncio

        eng = self.engine
        if getattr(eng, "_stopping", False) or not getattr(eng, "_started", True):
            return
        self._inside.active = True
        try:
            with contextlib.suppress(Exception):  # logging must never hurt the desk
                eng.explain(kind, text)
                # Offline nothing else commits: the line must not wait for market data.
                self._commits.add(task := asyncio.ensure_future(eng.commit()))
                task.add_done_callback(self._commits.discard)
        finally:
            self._inside.active = False


_installed: list[logging.Handler] = []


def route_logs_to_file(path: Path, engine: Any = None) -> Path:
    """Take terminal handlers off the root logger; log to ``path`` (rotating) instead.

    Called again (the desk switched to the demo), it replaces what it installed before.
    """
    import logging.handlers  # here: a backtest never logs to a file

    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler in _installed or _writes_to_terminal(handler):
            root.removeHandler(handler)
            if handler in _installed:
                handler.close()
    _installed.clear()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter(FORMAT))
    file_handler.addFilter(RedactSecrets())
    handlers: list[logging.Handler] = [file_handler]
    if engine is not None:
        forwarder = ExplainForwarder(engine)
        forwarder.addFilter(RedactSecrets())
        handlers.append(forwarder)
    for handler in handlers:
        root.addHandler(handler)
        _installed.append(handler)
    logging.captureWarnings(True)  # warnings.warn would print to stderr as well
    path.chmod(0o600)
    return path


def _writes_to_terminal(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(
        handler, logging.FileHandler
    )


def flush_logs() -> None:
    for handler in list(_installed):
        with contextlib.suppress(Exception):
            handler.flush()
