"""[ui.keymap] in the real `tapedesk demo`, in a private tmux server: the footer shows the
remapped key, the old key does nothing, the new one pauses the desk (as `status` confirms)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.engine.test_desk_in_tmux import Tmux, _quit, tmux, wait_for  # noqa: F401

pytestmark = pytest.mark.e2e


def test_a_remapped_pause_key_in_the_real_desk(tmux: Tmux) -> None:  # noqa: F811
    config = Path(tmux.env["XDG_CONFIG_HOME"]) / "tapedesk" / "config.toml"
    config.write_text(config.read_text() + '\n[ui.keymap]\npause = "f5"\n')
    name = "keymap"
    tmux.start(name, "demo")
    wait_for(lambda: "replay (offline demo)" in tmux.pane(name).splitlines()[0], "the desk")

    def footer() -> str:  # the footer paints after the header on a busy machine
        lines = [ln for ln in tmux.pane(name).splitlines() if ln.strip()]
        return next((ln for ln in reversed(lines) if "Pause" in ln), "")

    wait_for(lambda: "f5 Pause" in footer(), "the footer with the remapped key")
    assert " p Pause" not in footer(), footer()
    tmux.keys(name, "p")  # the old key
    time.sleep(1.5)
    assert "PAUSED" not in tmux.pane(name)
    tmux.keys(name, "F5")
    wait_for(lambda: "PAUSED" in tmux.pane(name), "PAUSED after f5")
    status = json.loads(tmux.td("status", "--json", "--mode", "demo").stdout)
    assert status["paused"] is True
    _quit(tmux, name)
    wait_for(lambda: "DESK-EXITED=0" in tmux.pane(name), "the desk to exit")
