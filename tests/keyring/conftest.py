"""A real, private Secret Service for the keyring tests: dbus-daemon + gnome-keyring-daemon.

Nothing touches the user's own keyring: each service gets a temporary HOME, XDG_DATA_HOME and
XDG_RUNTIME_DIR, its own session bus, and a gnome-keyring-daemon started with ``--unlock`` and a
password on stdin. ``--unlock`` makes gnome-keyring create the "login" collection (encrypted
with that password, under the temp XDG_DATA_HOME) and point the "default" alias at it, which
is the collection keyring's SecretService backend uses. We wait until the alias resolves to
an unlocked collection before any test runs, and refuse to start otherwise: if it were missing,
secretstorage would try to create a "Default" collection, which needs a GUI prompt.

Both daemons are started in the foreground as our children and stopped at teardown. The bus
runs from a config of our own with no service directories: with the standard session config,
the first query for org.freedesktop.secrets made before our daemon owned the name D-Bus-activated
a second gnome-keyring-daemon (without --unlock), which won the name and left the default
collection missing or locked ("another secret service is running"). No activation, no race.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DEFAULT_ALIAS = "/org/freedesktop/secrets/aliases/default"
LOGIN_COLLECTION = "/org/freedesktop/secrets/collection/login"
KEYRING_PASSWORD = "test-keyring-password"


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass
class SecretServiceSession:
    """Where a private Secret Service lives; ``env`` is what a child process needs to use it."""

    bus_address: str
    home: Path
    env: dict[str, str]

    def backend(self):
        """keyring's SecretService backend, explicitly (not whatever keyring would detect)."""
        from keyring.backends import SecretService

        return SecretService.Keyring()

    def collection(self):
        import secretstorage

        return secretstorage.Collection(secretstorage.dbus_init(), DEFAULT_ALIAS)


def _die_with_parent() -> None:
    """Run in the child before exec: if pytest is killed outright, the daemons go with it."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux/glibc: teardown still stops them normally
        pass


def _missing_tools() -> str | None:
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install dbus gnome-keyring)"
    try:
        import secretstorage  # noqa: F401
    except ImportError:
        return "secretstorage not installed (pip install secretstorage)"
    return None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_for_unlocked_default(env: dict[str, str], daemon: subprocess.Popen) -> None:
    """Poll the bus until gnome-keyring answers and the default alias is an unlocked collection."""
    import secretstorage
    from jeepney.io.blocking import open_dbus_connection

    deadline = time.monotonic() + 15
    last: Exception | None = None
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"gnome-keyring-daemon exited with {daemon.returncode}")
        try:
            connection = open_dbus_connection(bus=env["DBUS_SESSION_BUS_ADDRESS"])
            try:
                collection = secretstorage.Collection(connection, DEFAULT_ALIAS)
                if not collection.is_locked():
                    return
                last = RuntimeError("default collection is locked")
            finally:
                connection.close()
        except Exception as exc:  # not on the bus yet
            last = exc
        time.sleep(0.05)
    raise RuntimeError(f"gnome-keyring never offered an unlocked default collection: {last}")


@dataclass
class _Running:
    session: SecretServiceSession
    processes: list[subprocess.Popen]

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)


def start_secret_service(root: Path, password: str = KEYRING_PASSWORD) -> _Running:
    """Start dbus-daemon and gnome-keyring-daemon under ``root``; the caller must ``stop()``."""
    home = root / "home"
    runtime = root / "run"
    for path in (home, runtime, home / ".local" / "share"):
        path.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("GNOME_KEYRING_CONTROL", "PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_PID")
    }
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_RUNTIME_DIR=str(runtime),
    )
    config = root / "session-bus.conf"
    config.write_text(BUS_CONFIG)
    processes: list[subprocess.Popen] = []
    try:
        bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            preexec_fn=_die_with_parent,
        )
        processes.append(bus)
        address = bus.stdout.readline().strip()
        if not address:
            raise RuntimeError("dbus-daemon printed no address")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        keyring_daemon = subprocess.Popen(
            [
                "gnome-keyring-daemon",
                "--foreground",
                "--replace",
                "--unlock",
                "--components=secrets",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            preexec_fn=_die_with_parent,
        )
        processes.append(keyring_daemon)
        keyring_daemon.stdin.write(password)
        keyring_daemon.stdin.close()
        _wait_for_unlocked_default(env, keyring_daemon)
    except BaseException:
        for process in reversed(processes):
            _stop(process)
        raise
    return _Running(SecretServiceSession(address, home, env), processes)


def _skip_without_tools() -> None:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"real Secret Service unavailable: {missing}")


@pytest.fixture
def start_private_secret_service():
    """``start(root) -> running`` for a test that needs a Secret Service of its own."""
    _skip_without_tools()
    return start_secret_service


@pytest.fixture(scope="session")
def _secret_service_daemons(tmp_path_factory) -> Iterator[SecretServiceSession]:
    _skip_without_tools()
    running = start_secret_service(tmp_path_factory.mktemp("secret-service"))
    try:
        yield running.session
    finally:
        running.stop()


_ENV_KEYS = ("DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR")


@pytest.fixture
def secret_service(_secret_service_daemons, monkeypatch) -> Iterator[SecretServiceSession]:
    """The private Secret Service, with this process's environment pointed at it for one test,
    and every tapedesk item removed afterwards so tests do not see each other's keys."""
    session = _secret_service_daemons
    for key in _ENV_KEYS:
        monkeypatch.setenv(key, session.env[key])
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    yield session
    for item in session.collection().search_items({"service": "tapedesk"}):
        item.delete()
