"""While the desk owns the terminal, log records go to a rotating file, never to the screen.

``logging.basicConfig`` (engine/cli.py) writes to stderr, and under a full-screen app those
lines land on top of the desk (issue 9: ``ERROR binance.ws.reconnecting_websocket ...``
across the panes). For the desk's lifetime, handlers that write to a terminal stream are
set aside for a rotating file, and warnings and errors are also queued (bounded) for the
explanation log, which the desk drains once per frame like any engine event.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from platformdirs import user_state_path

LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
INBOX = 200  # log lines waiting for the next frame; a flood keeps only the newest


def desk_log_path() -> Path:
    """``$TAPEDESK_HOME/logs/desk.log`` when a home is set (tests, custom setups), else the
    XDG state dir: ``~/.local/state/tapedesk/desk.log`` on Linux."""
    home = os.environ.get("TAPEDESK_HOME")
    base = Path(home) / "logs" if home else user_state_path("tapedesk", appauthor=False)
    return base / "desk.log"


class DeskInbox(logging.Handler):
    """Keeps WARNING+ records for the explanation log; safe from any thread (deque append)."""

    def __init__(self, maxlen: int = INBOX) -> None:
        super().__init__(logging.WARNING)
        self.records: deque[logging.LogRecord] = deque(maxlen=maxlen)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def drain(self) -> list[logging.LogRecord]:
        out = []
        while self.records:
            try:
                out.append(self.records.popleft())
            except IndexError:  # emptied by a racing drain
                break
        return out


def _on_terminal(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
        return False
    if stream in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__):
        return True
    with contextlib.suppress(Exception):
        return bool(stream.isatty())
    return False


@contextlib.contextmanager
def routed_logs(path: Path | None = None) -> Iterator[DeskInbox]:
    """Route the root logger away from the terminal until the block ends, then restore."""
    root = logging.getLogger()
    path = path or desk_log_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    to_file = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    with contextlib.suppress(OSError):
        path.chmod(0o600)  # like the journal: account details may appear in a log line
    inbox = DeskInbox()
    aside = [h for h in root.handlers if _on_terminal(h)]
    for handler in aside:
        root.removeHandler(handler)
    root.addHandler(to_file)
    root.addHandler(inbox)
    try:
        yield inbox
    finally:
        root.removeHandler(inbox)
        root.removeHandler(to_file)
        to_file.close()
        for handler in aside:
            root.addHandler(handler)
