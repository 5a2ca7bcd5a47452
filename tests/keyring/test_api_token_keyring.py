"""`tapedesk api token` on a real Secret Service (gnome-keyring on a private bus): the token
is a keyring item (service ``tapedesk``, username ``api:token``), shown on stdout only, and
nowhere in clear on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tapedesk.engine.api.token import USERNAME, load_token

pytestmark = pytest.mark.keyring
ROOT = Path(__file__).resolve().parents[2]


def _token_cmd(*extra: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("tapedesk")
    argv = [exe] if exe else [sys.executable, "-m", "tapedesk"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*argv, "api", "token", *extra], capture_output=True, text=True,
                          env=env, timeout=60)


def test_api_token_lives_in_the_secret_service(secret_service) -> None:
    made = _token_cmd()
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    items = list(secret_service.collection().search_items({"service": "tapedesk",
                                                           "username": USERNAME}))
    assert len(items) == 1 and items[0].get_secret().decode() == token
    stored = load_token(secret_service.backend())
    assert stored is not None and stored.matches(token) and token not in repr(stored)
    rotated = _token_cmd("--rotate")
    assert rotated.returncode == 0 and rotated.stdout.strip() != token
    assert not load_token(secret_service.backend()).matches(token)
    for path in secret_service.home.rglob("*"):  # the keyring file is encrypted
        if path.is_file():
            data = path.read_bytes()
            assert token.encode() not in data and rotated.stdout.strip().encode() not in data
