"""Log records never write over the desk: a rotating file, plus the explanation log."""

from __future__ import annotations

import io
import logging

from tapedesk.tui.app import make_app
from tapedesk.tui.log_routing import desk_log_path, routed_logs

from tests.tui.helpers import ready, settle


async def test_records_go_to_the_file_and_the_log_pane_not_the_terminal(desk_engine, tmp_path):
    root = logging.getLogger()
    terminal = io.StringIO()
    on_terminal = logging.StreamHandler(terminal)
    on_terminal.stream = terminal
    on_terminal.stream.isatty = lambda: True  # what basicConfig's stderr handler is in a tty
    root.addHandler(on_terminal)
    path = tmp_path / "state" / "desk.log"
    try:
        app = make_app(desk_engine, bell=False)
        with routed_logs(path) as inbox:
            assert on_terminal not in root.handlers
            app.log_inbox = inbox
            async with app.run_test(size=(120, 36)) as pilot:
                await ready(pilot)
                ws = logging.getLogger("binance.ws.reconnecting_websocket")
                for _ in range(5):  # a reconnect loop: shown once, all in the file
                    ws.error("Failed to connect to websocket: [Errno 111] refused")
                logging.getLogger("tapedesk.test").info("only in the file at INFO? no: below")
                await settle(pilot)
                lines = [e.text for e in app.explain.history if "Failed to connect" in e.text]
                assert lines == ["log error: binance.ws.reconnecting_websocket: Failed to "
                                 "connect to websocket: [Errno 111] refused"]
        assert on_terminal in root.handlers  # restored for the summary after the desk
        assert terminal.getvalue() == ""
        assert path.read_text().count("Failed to connect to websocket") == 5
        assert path.stat().st_mode & 0o077 == 0
    finally:
        root.removeHandler(on_terminal)


def test_the_log_file_lives_under_the_desk_home_or_the_xdg_state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TAPEDESK_HOME", str(tmp_path / "home"))
    assert desk_log_path() == tmp_path / "home" / "logs" / "desk.log"
    monkeypatch.delenv("TAPEDESK_HOME")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert desk_log_path() == tmp_path / "state" / "tapedesk" / "desk.log"
