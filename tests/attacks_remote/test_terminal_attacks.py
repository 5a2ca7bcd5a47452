"""A person at a real terminal (a pty) follows docs/notifications.md: `tapedesk notify add
phone`, typed URL, then a second `add` of the same name, then `notify telegram-token`.
Nothing typed is ever drawn on the screen."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.keyring.test_keys_terminal import Terminal

REPO = Path(__file__).resolve().parents[2]
URL = "json://desk:pw-Tt55-typed-never-shown@127.0.0.1:9/hook"
TOKEN = "123456789:AAHtyped-token-never-drawn_on_screen1"


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TERM": "dumb",
            "TAPEDESK_HOME": str(tmp_path / "home"),
            "TD_FILE_KEYRING": str(tmp_path / "keys.json"),
            "PYTHON_KEYRING_BACKEND": "tests.live.file_keyring.PlainFileKeyring"}


def _tapedesk(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("tapedesk")), *args]  # the console script


def test_typed_url_and_token_are_never_drawn(tmp_path: Path) -> None:
    env = _env(tmp_path)
    t = Terminal(_tapedesk("notify", "add", "phone"), env)
    t.read_until("not shown as you type")
    t.type(URL)
    assert t.finish() == 0, t.transcript
    first = t.transcript.decode(errors="replace")
    assert "Stored phone: a JSON service" in first

    # The same name again: asked before replacing; "n" keeps it, and no URL is asked for.
    t = Terminal(_tapedesk("notify", "add", "phone"), env)
    t.read_until("Replace it?")
    t.type("n")
    assert t.finish() == 1
    second = t.transcript.decode(errors="replace")
    assert "kept as it was" in second and "not shown as you type" not in second

    t = Terminal(_tapedesk("notify", "telegram-token"), env)
    t.read_until("not shown as you type")
    t.type(TOKEN)
    assert t.finish() == 0, t.transcript
    third = t.transcript.decode(errors="replace")
    assert "Stored the Telegram bot token" in third

    for shown in (first, second, third):
        assert "pw-Tt55" not in shown and TOKEN.split(":")[1] not in shown, shown
    stored = (tmp_path / "keys.json").read_text()
    assert URL in stored and TOKEN in stored  # it did reach the keyring
