"""Log routing for the TUI: records to a rotating file, none to the terminal, warnings to the
explanation log at most once a minute per message, secrets masked."""

from __future__ import annotations

import asyncio
import io
import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest
from tapedesk.engine.desk_log import ExplainForwarder, route_logs_to_file
from tapedesk.engine.events import ExplanationKind


class Recorder:
    """Just enough engine: explain() and commit()."""

    _started = True
    _stopping = False

    def __init__(self) -> None:
        self.lines: list[tuple[ExplanationKind, str]] = []
        self.commits = 0

    def explain(self, kind: ExplanationKind, text: str) -> None:
        self.lines.append((kind, text))

    async def commit(self) -> None:
        self.commits += 1


@pytest.fixture
def root_logger():
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield root
    for h in list(root.handlers):
        root.removeHandler(h)
        if h not in saved:
            h.close()
    for h in saved:
        root.addHandler(h)
    root.setLevel(level)
    logging.captureWarnings(False)


def test_a_reconnect_loop_reaches_the_explanation_log_once_with_a_count() -> None:
    engine = Recorder()
    fwd = ExplainForwarder(engine, every_s=0.2)
    log = logging.getLogger("binance.ws.reconnecting_websocket")
    log.propagate = False
    log.addHandler(fwd)

    async def flood() -> None:
        for _ in range(100):
            log.error("Failed to connect to websocket: %s", "[Errno -2] Name or service not known")
        log.warning("a different message")
        log.info("below the forwarder's level")
        await asyncio.sleep(0.25)
        log.error("Failed to connect to websocket: %s", "again")
        await asyncio.sleep(0)

    try:
        asyncio.run(flood())
    finally:
        log.removeHandler(fwd)
        log.propagate = True
    kinds = [k for k, _ in engine.lines]
    assert kinds == [ExplanationKind.ERROR, ExplanationKind.DESK, ExplanationKind.ERROR]
    assert "Name or service not known (binance.ws.reconnecting_websocket)" in engine.lines[0][1]
    assert "(warning, binance.ws.reconnecting_websocket)" in engine.lines[1][1]
    assert "and 99 more like it" in engine.lines[2][1]
    assert engine.commits == 3  # offline, nothing else would commit them


def test_tui_routing_takes_the_terminal_handler_off_and_masks_secrets(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    terminal = io.StringIO()
    root_logger.addHandler(logging.StreamHandler(terminal))
    root_logger.setLevel(logging.INFO)
    path = route_logs_to_file(tmp_path / "log" / "desk-paper.log", Recorder())
    logging.getLogger("x").error("GET /fapi/v1/order?symbol=BTCUSDT&signature=abc123def456 failed")
    logging.getLogger("x").info("listenKey=Zq9SECRETKEY renewed")
    for h in root_logger.handlers:
        h.flush()
    text = path.read_text()
    assert terminal.getvalue() == ""
    assert "ERROR x: GET /fapi/v1/order?symbol=BTCUSDT&signature=*** failed" in text
    assert "abc123def456" not in text and "Zq9SECRETKEY" not in text
    assert path.stat().st_mode & 0o777 == 0o600
    route_logs_to_file(tmp_path / "log" / "desk-demo.log", Recorder())  # the d switch
    rotating = [h for h in root_logger.handlers if isinstance(h, RotatingFileHandler)]
    assert [Path(h.baseFilename).name for h in rotating] == ["desk-demo.log"]


def test_messages_that_all_differ_are_capped_per_window_and_counted() -> None:
    engine = Recorder()
    fwd = ExplainForwarder(engine, every_s=0.2, per_window=3)
    log = logging.getLogger("tapedesk.test.flood")
    log.propagate = False
    log.addHandler(fwd)

    async def flood() -> None:
        for i in range(50):
            log.warning(f"attempt {i} failed")  # each text is new: no per-message limit helps
        await asyncio.sleep(0.25)
        log.warning("after the window")
        await asyncio.sleep(0)

    try:
        asyncio.run(flood())
    finally:
        log.removeHandler(fwd)
        log.propagate = True
    texts = [t for _, t in engine.lines]
    assert len(texts) == 4 and texts[0].startswith("attempt 0 failed")
    assert "after the window" in texts[3] and "[47 other log lines not shown here" in texts[3]
