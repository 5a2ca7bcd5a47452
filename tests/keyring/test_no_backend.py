"""Without a usable keyring the desk explains the way out instead of printing a traceback."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from keyring.backends import chainer, fail, null
from tapedesk.engine.keys import (
    Credentials,
    KeyringUnavailable,
    delete_credentials,
    load_credentials,
    resolve_backend,
    save_credentials,
)
from tapedesk.engine.keys_cli import EXIT_UNAVAILABLE, run_keys_command

KEY = "Kq7vXm2PzR9tL4wY8nB3cF6hJ1sD5gA0eU2iO7kQ9xZ3vN6mT8rW4yP1bH5jC2lE"
SECRET = "Sx4gH8kL2pQ6wE0rT5yU9iO3aS7dF1gJ4hK8lZ2xC6vB0nM5qW9eR3tY7uI1oP4a"
REPO = Path(__file__).resolve().parents[2]


def assert_explains_the_three_ways_out(text: str) -> None:
    assert "dbus-run-session" in text
    assert "gnome-keyring-daemon --unlock --components=secrets" in text
    assert "pip install keyrings.cryptfile" in text
    assert "PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring" in text
    assert "paper mode, which needs no keys" in text


@pytest.mark.parametrize(
    "operation",
    [
        lambda backend: load_credentials(backend=backend),
        lambda backend: save_credentials(Credentials(KEY, SECRET), backend=backend),
        lambda backend: delete_credentials(backend=backend),
    ],
    ids=["load", "save", "delete"],
)
def test_keyrings_fail_backend_becomes_keyring_unavailable_with_instructions(operation):
    with pytest.raises(KeyringUnavailable) as raised:
        operation(fail.Keyring())

    assert "keyring.backends.fail.Keyring" in raised.value.reason
    assert_explains_the_three_ways_out(str(raised.value))
    assert SECRET not in str(raised.value) and KEY not in str(raised.value)


def test_null_backend_is_refused_because_it_would_silently_lose_the_keys():
    with pytest.raises(KeyringUnavailable, match="stores nothing"):
        save_credentials(Credentials(KEY, SECRET), backend=null.Keyring())


def test_a_chainer_with_nothing_to_chain_is_refused(monkeypatch):
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])

    with pytest.raises(KeyringUnavailable, match="no viable backend"):
        resolve_backend(chainer.ChainerBackend())


def test_cli_exits_2_with_the_instructions_and_no_traceback():
    out = io.StringIO()

    code = run_keys_command("check", stdin=io.StringIO(), out=out, backend=fail.Keyring())

    assert code == EXIT_UNAVAILABLE
    assert_explains_the_three_ways_out(out.getvalue())
    assert "Traceback" not in out.getvalue()


def _process_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND")
    }
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), PYTHONPATH=str(REPO))
    env.update(extra)
    return env


@pytest.mark.parametrize("action", ["set", "check", "delete"])
def test_a_headless_machine_gets_the_explanation_from_the_real_command(tmp_path, action):
    """A fresh process where keyring itself picks the fail backend, as on a server."""
    result = subprocess.run(
        [sys.executable, "-m", "tapedesk.engine.keys_cli", "keys", action],
        env=_process_env(tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"),
        input=f"{KEY}\n{SECRET}\n\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )

    assert result.returncode == EXIT_UNAVAILABLE
    assert_explains_the_three_ways_out(result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_a_backend_that_cannot_be_loaded_is_explained(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tapedesk.engine.keys_cli", "keys", "check"],
        env=_process_env(tmp_path, PYTHON_KEYRING_BACKEND="keyrings.notinstalled.Keyring"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )

    assert result.returncode == EXIT_UNAVAILABLE
    assert "check PYTHON_KEYRING_BACKEND" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
