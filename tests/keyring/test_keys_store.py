"""engine.keys against a real Secret Service (gnome-keyring on a private session bus)."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess

import pytest
from Crypto.PublicKey import ECC
from tapedesk.engine.keys import (
    SERVICE,
    Credentials,
    InvalidCredentials,
    KeyringUnavailable,
    delete_credentials,
    load_credentials,
    save_credentials,
)

pytestmark = pytest.mark.keyring

KEY = "Kq7vXm2PzR9tL4wY8nB3cF6hJ1sD5gA0eU2iO7kQ9xZ3vN6mT8rW4yP1bH5jC2lE"
SECRET = "Sx4gH8kL2pQ6wE0rT5yU9iO3aS7dF1gJ4hK8lZ2xC6vB0nM5qW9eR3tY7uI1oP4a"


def test_saved_keys_load_back_identical(secret_service):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)

    loaded = load_credentials(backend=backend)

    assert loaded == Credentials(KEY, SECRET)
    assert loaded.api_key == KEY and loaded.api_secret == SECRET
    assert loaded.signing == "hmac"


def test_nothing_stored_loads_as_none(secret_service):
    assert load_credentials(backend=secret_service.backend()) is None


def test_item_lives_under_service_tapedesk_with_environment_in_the_username(secret_service):
    save_credentials(
        Credentials(KEY, SECRET, environment="testnet"), backend=secret_service.backend()
    )

    items = list(secret_service.collection().search_items({"service": SERVICE}))

    assert [item.get_attributes()["username"] for item in items] == ["testnet:default"]
    stored = json.loads(items[0].get_secret())
    assert stored == {"v": 1, "api_key": KEY, "api_secret": SECRET, "private_key_pem": None}


def test_secret_tool_finds_the_same_item(secret_service):
    """Interop with the standard CLI: what we store is an ordinary Secret Service item."""
    if shutil.which("secret-tool") is None:
        pytest.skip("secret-tool not installed (apt-get install libsecret-tools)")
    save_credentials(Credentials(KEY, SECRET), backend=secret_service.backend())

    found = subprocess.run(
        ["secret-tool", "lookup", "service", SERVICE, "username", "live:default"],
        env=secret_service.env,
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["api_key"] == KEY


def test_environments_are_kept_apart(secret_service):
    backend = secret_service.backend()
    other_key, other_secret = KEY[::-1], SECRET[::-1]
    save_credentials(Credentials(KEY, SECRET, environment="live"), backend=backend)
    save_credentials(Credentials(other_key, other_secret, environment="testnet"), backend=backend)

    assert load_credentials(environment="live", backend=backend).api_key == KEY
    assert load_credentials(environment="testnet", backend=backend).api_key == other_key
    assert load_credentials(environment="demo-trading", backend=backend) is None

    assert delete_credentials(environment="testnet", backend=backend) is True
    assert load_credentials(environment="testnet", backend=backend) is None
    assert load_credentials(environment="live", backend=backend).api_key == KEY


def test_profiles_are_kept_apart(secret_service):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET, profile="main"), backend=backend)

    assert load_credentials("main", backend=backend).api_key == KEY
    assert load_credentials("default", backend=backend) is None


def test_save_replaces_the_previous_keys(secret_service):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)
    save_credentials(Credentials(KEY[::-1], SECRET[::-1]), backend=backend)

    assert load_credentials(backend=backend).api_key == KEY[::-1]
    assert len(list(secret_service.collection().search_items({"service": SERVICE}))) == 1


def test_delete_removes_the_keys_and_says_whether_there_were_any(secret_service):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)

    assert delete_credentials(backend=backend) is True
    assert load_credentials(backend=backend) is None
    assert delete_credentials(backend=backend) is False


def test_ed25519_private_key_is_stored_in_the_form_python_binance_reads_as_ed25519(
    secret_service,
):
    pem = ECC.generate(curve="ed25519").export_key(format="PEM").replace("\n", "\r\n") + "\r\n"
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, None, private_key_pem=pem), backend=backend)

    loaded = load_credentials(backend=backend)

    assert loaded.api_secret is None and loaded.signing == "ed25519"
    # python-binance 1.0.37 takes texts over 120 characters for RSA keys.
    assert len(loaded.private_key_pem) <= 120
    assert ECC.import_key(loaded.private_key_pem) == ECC.import_key(pem)


def test_a_malformed_keyring_item_says_to_set_the_keys_again_without_showing_it(secret_service):
    backend = secret_service.backend()
    backend.set_password(SERVICE, "live:default", "garbage-" + SECRET)

    with pytest.raises(InvalidCredentials) as raised:
        load_credentials(backend=backend)

    assert "tapedesk keys set" in str(raised.value)
    assert SECRET not in str(raised.value)


def test_repr_and_str_show_only_the_masked_key():
    pem = ECC.generate(curve="ed25519").export_key(format="PEM")
    credentials = Credentials(KEY, SECRET, private_key_pem=pem, environment="demo-trading")

    for text in (repr(credentials), str(credentials), f"{credentials}", f"{[credentials]}"):
        assert KEY not in text and SECRET not in text and pem not in text
        assert "Kq7v…lE" not in text  # the mask shows 4 + 4, nothing in between
        assert "Kq7v…C2lE" in text
        assert "demo-trading" in text


def test_credentials_refuse_to_be_pickled():
    with pytest.raises(TypeError):
        pickle.dumps(Credentials(KEY, SECRET))


@pytest.mark.parametrize(
    ("key", "secret", "field"),
    [
        ("", SECRET, "api_key"),
        (KEY[:20] + " " + KEY[21:], SECRET, "api_key"),
        ("short", SECRET, "api_key"),
        (KEY, SECRET[:30] + "\t" + SECRET[31:], "api_secret"),
        (KEY, None, "api_secret"),
        (KEY, "é" * 64, "api_secret"),
    ],
)
def test_malformed_keys_are_refused_naming_the_field_not_the_value(key, secret, field):
    with pytest.raises(InvalidCredentials) as raised:
        Credentials(key, secret)

    assert raised.value.field == field
    assert str(raised.value).startswith(field)
    for value in (key, secret):
        if value and len(value) > 5:
            assert value not in str(raised.value)


def test_a_non_ed25519_private_key_is_refused():
    p256 = ECC.generate(curve="P-256").export_key(format="PEM")
    with pytest.raises(InvalidCredentials, match="Ed25519"):
        Credentials(KEY, None, private_key_pem=p256)
    with pytest.raises(InvalidCredentials, match="passphrase"):
        Credentials(KEY, None, private_key_pem="-----BEGIN ENCRYPTED PRIVATE KEY-----\nxx\n")


def test_a_backend_error_is_reported_scrubbed_and_without_the_chained_exception():
    """Whatever a backend raises, the user sees one sentence with no secret in it."""
    from keyring.backend import KeyringBackend

    class Exploding(KeyringBackend):
        priority = 1

        def get_password(self, service, username):
            return None

        def set_password(self, service, username, password):
            raise OSError(f"disk full while writing {password}")

        def delete_password(self, service, username):
            raise OSError("no")

    with pytest.raises(KeyringUnavailable) as raised:
        save_credentials(Credentials(KEY, SECRET), backend=Exploding())

    text = str(raised.value)
    assert "disk full" in text and "OSError" in text
    assert SECRET not in text and KEY not in text
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_locked_keyring_is_reported_as_locked_with_the_way_to_unlock_it(
    start_private_secret_service, tmp_path, monkeypatch
):
    """Its own daemon: once locked, gnome-keyring would need a GUI prompt to unlock it."""
    running = start_private_secret_service(tmp_path)
    try:
        for key in ("DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"):
            monkeypatch.setenv(key, running.session.env[key])
        running.session.collection().lock()

        with pytest.raises(KeyringUnavailable) as raised:
            load_credentials(backend=running.session.backend())

        assert "locked" in raised.value.reason
        assert "gnome-keyring-daemon --replace --unlock" in str(raised.value)
    finally:
        running.stop()


def test_demo_trading_keys_stored_under_the_old_demo_name_still_load_and_delete(secret_service):
    backend = secret_service.backend()
    legacy = Credentials(KEY, SECRET, environment="live")._to_keyring()
    backend.set_password(SERVICE, "demo:default", legacy)  # written before the rename

    loaded = load_credentials(environment="demo-trading", backend=backend)

    assert loaded is not None and loaded.api_key == KEY
    assert loaded.environment == "demo-trading"
    assert load_credentials(environment="live", backend=backend) is None
    assert delete_credentials(environment="demo-trading", backend=backend) is True
    assert backend.get_password(SERVICE, "demo:default") is None
