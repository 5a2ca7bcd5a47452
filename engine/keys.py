"""Binance API keys in the OS keyring (service ``tapedesk``), never in files, logs or the journal.

One keyring item per (environment, profile): the username field is ``"<environment>:<profile>"``
(``live:default``, ``testnet:default``, ``demo-trading:default``) so testnet keys can never be picked up
by a live run, and the password field holds a small JSON document with the key, the HMAC secret
and, optionally, an Ed25519 private key (PEM). One item per set keeps a save atomic: there is no
state where the key is stored and its secret is not.

A machine without a keyring backend (a headless server, a container) gets
``KeyringUnavailable`` whose message says what to do, instead of keyring's traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # keyring itself is imported when a key is read or stored (start-up cost)
    from keyring.backend import KeyringBackend

SERVICE = "tapedesk"
ENVIRONMENTS = ("live", "testnet", "demo-trading")
#: Keyring usernames written before "demo" became "demo-trading" (Binance's demo-trading
#: environment; "demo" alone is the offline replay): still read and deleted.
_LEGACY_ENVIRONMENT = {"demo-trading": "demo"}
DEFAULT_PROFILE = "default"
_FORMAT_VERSION = 1
_PROFILE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Binance keys and HMAC secrets are 64 letters and digits; allow some room for other shapes
# (future formats, Ed25519 key ids) but refuse what is clearly a paste accident.
_MIN_TOKEN, _MAX_TOKEN = 16, 256
# python-binance 1.0.37 treats a private key text longer than 120 characters as RSA; a canonical
# Ed25519 PKCS#8 PEM is 119, so we store the canonical form and check it stays within the limit.
_MAX_ED25519_PEM = 120

HEADLESS_HELP = """\
Tapedesk keeps Binance API keys only in an OS keyring. Three ways forward:

  1. Run a Secret Service (gnome-keyring) for this login, e.g. on a headless server:
       sudo apt-get install dbus gnome-keyring          # once
       dbus-run-session -- bash                          # a shell with its own session bus
       read -rs KP; printf '%s' "$KP" | gnome-keyring-daemon --unlock --components=secrets; unset KP
       tapedesk keys set                                 # then run tapedesk in this same shell
     Type the same keyring password each time: it unlocks ~/.local/share/keyrings/login.keyring.

  2. Use an encrypted file as the keyring (no daemon needed):
       pip install keyrings.cryptfile
       export PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring
       tapedesk keys set                                 # asks for the file's password
     The keys are then kept encrypted in ~/.local/share/python_keyring/cryptfile_pass.cfg.

  3. Use paper mode, which needs no keys: run `tapedesk` without --live."""


class KeyringUnavailable(RuntimeError):
    """No keyring backend can store or read keys here; the message says what to do about it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Cannot use the OS keyring: {reason}.\n\n{HEADLESS_HELP}")


class InvalidCredentials(ValueError):
    """A key, secret or private key of the wrong shape; names the field, never shows the value."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


def mask(value: str | None) -> str:
    """Enough of an API key to recognise it (``abcd…wxyz``), never enough to use it."""
    if not value:
        return "(none)"
    if len(value) < 12:
        return "…" * 3
    return f"{value[:4]}…{value[-4:]}"


def check_token(field: str, value: str | None) -> str:
    """Refuse an API key or secret that cannot be one: empty, containing spaces, absurd length."""
    if value is None or value == "":
        raise InvalidCredentials(field, "is empty")
    if any(ch.isspace() for ch in value):
        raise InvalidCredentials(field, "contains whitespace (was more than the key pasted?)")
    if not value.isascii() or not value.isprintable():
        raise InvalidCredentials(field, "contains characters that are not printable ASCII")
    if not _MIN_TOKEN <= len(value) <= _MAX_TOKEN:
        raise InvalidCredentials(
            field,
            f"has {len(value)} characters; Binance keys and secrets have 64 "
            f"(accepted: {_MIN_TOKEN}–{_MAX_TOKEN})",
        )
    return value


def normalise_ed25519_pem(text: str) -> str:
    """The canonical PKCS#8 PEM of an unencrypted Ed25519 private key, or ``InvalidCredentials``.

    Canonical because python-binance decides Ed25519 vs RSA by the text's length.
    """
    field = "private_key"
    if "ENCRYPTED PRIVATE KEY" in text:
        raise InvalidCredentials(
            field,
            "is passphrase-protected; python-binance cannot use an encrypted Ed25519 key. "
            "Store the unencrypted key (the keyring itself is encrypted) and delete the file",
        )
    if "-----BEGIN" not in text or "PRIVATE KEY-----" not in text:
        raise InvalidCredentials(
            field, "is not a PEM private key (expected -----BEGIN PRIVATE KEY-----)"
        )
    from Crypto.PublicKey import ECC  # pycryptodome: a python-binance dependency

    try:
        key = ECC.import_key(text)
    except (ValueError, IndexError, TypeError):
        raise InvalidCredentials(field, "could not be read as an Ed25519 private key") from None
    if key.curve.lower() != "ed25519" or not key.has_private():
        raise InvalidCredentials(
            field, f"is a {key.curve} key; Binance needs an Ed25519 private key"
        )
    pem = key.export_key(format="PEM")
    if len(pem) > _MAX_ED25519_PEM:
        raise InvalidCredentials(field, "is longer than an Ed25519 PEM can be")
    return pem


def check_environment(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise InvalidCredentials("environment", f"must be one of {', '.join(ENVIRONMENTS)}")
    return environment


def check_profile(profile: str) -> str:
    if not isinstance(profile, str) or not _PROFILE_RE.match(profile):
        raise InvalidCredentials("profile", "must be 1–64 letters, digits, '.', '_' or '-'")
    return profile


def keyring_username(environment: str, profile: str = DEFAULT_PROFILE) -> str:
    """The keyring item's username: environment first, so live and testnet keys never mix."""
    return f"{check_environment(environment)}:{check_profile(profile)}"


@dataclass(frozen=True, repr=False)
class Credentials:
    """One Binance API key with what signs its requests: an HMAC secret or an Ed25519 key.

    ``repr``/``str`` show only the masked key: a Credentials object may end up in a log line
    or a traceback's locals and must not leak there.
    """

    api_key: str
    api_secret: str | None = None
    private_key_pem: str | None = None
    environment: str = "live"
    profile: str = DEFAULT_PROFILE

    def __post_init__(self) -> None:
        check_environment(self.environment)
        check_profile(self.profile)
        check_token("api_key", self.api_key)
        if self.api_secret is None and self.private_key_pem is None:
            raise InvalidCredentials(
                "api_secret", "is required unless an Ed25519 private key is given"
            )
        if self.api_secret is not None:
            check_token("api_secret", self.api_secret)
        if self.private_key_pem is not None:
            object.__setattr__(self, "private_key_pem", normalise_ed25519_pem(self.private_key_pem))

    @property
    def masked_key(self) -> str:
        return mask(self.api_key)

    @property
    def signing(self) -> str:
        """How requests are signed: ``ed25519`` when a private key is present, else ``hmac``."""
        return "ed25519" if self.private_key_pem else "hmac"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for python-binance's ``AsyncClient``; testnet/demo are the caller's."""
        return {
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "private_key": self.private_key_pem,
        }

    def secrets(self) -> tuple[str, ...]:
        """Every sensitive string held here, for scrubbing text before it is shown or logged."""
        return tuple(s for s in (self.api_key, self.api_secret, self.private_key_pem) if s)

    def __repr__(self) -> str:
        return (
            f"Credentials(environment={self.environment!r}, profile={self.profile!r}, "
            f"api_key={self.masked_key!r}, api_secret={'***' if self.api_secret else None!r}, "
            f"private_key={'***' if self.private_key_pem else None!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling would write the secret to wherever the pickle goes (a cache, a file).
        raise TypeError("Credentials are not picklable: they hold secrets")

    def _to_keyring(self) -> str:
        import json  # here: every command imports this module (keys_parser)

        return json.dumps(
            {
                "v": _FORMAT_VERSION,
                "api_key": self.api_key,
                "api_secret": self.api_secret,
                "private_key_pem": self.private_key_pem,
            }
        )

    @classmethod
    def _from_keyring(cls, stored: str, environment: str, profile: str) -> Credentials:
        where = f"the keyring item {SERVICE}/{environment}:{profile}"
        import json

        try:
            data = json.loads(stored)
        except ValueError:
            raise InvalidCredentials(
                where, "is not in Tapedesk's format; run `tapedesk keys set` again"
            ) from None
        if not isinstance(data, dict) or data.get("v") != _FORMAT_VERSION:
            raise InvalidCredentials(
                where, "is not in Tapedesk's format; run `tapedesk keys set` again"
            )
        try:
            return cls(
                api_key=data.get("api_key"),
                api_secret=data.get("api_secret"),
                private_key_pem=data.get("private_key_pem"),
                environment=environment,
                profile=profile,
            )
        except InvalidCredentials as exc:
            raise InvalidCredentials(
                where, f"holds a bad {exc.field}; run `tapedesk keys set` again"
            ) from None


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__name__}"


def resolve_backend(backend: KeyringBackend | None = None) -> KeyringBackend:
    """The keyring backend to use, refusing the ones that can only fail.

    keyring falls back to ``fail.Keyring`` (raises on every call) when nothing is viable, and a
    chainer with nothing to chain behaves the same; ``null.Keyring`` silently stores nothing,
    which would be worse: `keys set` would report success and lose the keys.
    """
    import keyring
    from keyring.backends import chainer, fail, null

    if backend is None:
        try:
            backend = keyring.get_keyring()
        except Exception as exc:  # a bad PYTHON_KEYRING_BACKEND raises ImportError and friends
            raise KeyringUnavailable(
                f"keyring could not load its backend ({type(exc).__name__}: {exc}); "
                "check PYTHON_KEYRING_BACKEND"
            ) from None
    if isinstance(backend, fail.Keyring):
        raise KeyringUnavailable(
            f"no keyring backend is available here (keyring chose {backend_name(backend)}, "
            "which refuses every operation: no Secret Service on a D-Bus session bus, "
            "no other backend configured)"
        )
    if isinstance(backend, null.Keyring):
        raise KeyringUnavailable(
            f"the configured keyring backend {backend_name(backend)} stores nothing"
        )
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        raise KeyringUnavailable(
            "no keyring backend is available here (keyring's chainer found no viable backend)"
        )
    return backend


@contextmanager
def _keyring_call(
    doing: str, backend: KeyringBackend, secrets: Iterable[str] = ()
) -> Iterator[None]:
    """Turn whatever a backend raises into ``KeyringUnavailable``, scrubbed, without the chain.

    Backends raise a zoo of types (keyring errors, D-Bus errors, OSError); the user needs one
    sentence and the way out, and no secret may ride along in a chained exception's text.
    """
    import keyring.errors

    secrets = tuple(secrets)
    try:
        yield
    except KeyringUnavailable:
        raise
    except keyring.errors.KeyringLocked:
        raise KeyringUnavailable(
            f"the keyring ({backend_name(backend)}) is locked and could not be unlocked while "
            f"{doing}; unlock it (gnome-keyring: printf '%s' \"$KP\" | "
            "gnome-keyring-daemon --replace --unlock --components=secrets)"
        ) from None
    except Exception as exc:
        detail = scrub(f"{type(exc).__name__}: {exc}", secrets)
        raise KeyringUnavailable(
            f"the keyring backend {backend_name(backend)} failed while {doing} ({detail})"
        ) from None


def load_credentials(
    profile: str = DEFAULT_PROFILE,
    *,
    environment: str = "live",
    backend: KeyringBackend | None = None,
) -> Credentials | None:
    """The stored keys for ``environment``/``profile``, or None when none are stored."""
    username = keyring_username(environment, profile)
    kr = resolve_backend(backend)
    with _keyring_call("reading the keys", kr):
        stored = kr.get_password(SERVICE, username)
        if stored is None and environment in _LEGACY_ENVIRONMENT:
            legacy = f"{_LEGACY_ENVIRONMENT[environment]}:{check_profile(profile)}"
            stored = kr.get_password(SERVICE, legacy)
    if stored is None:
        return None
    return Credentials._from_keyring(stored, environment, profile)


def save_credentials(credentials: Credentials, *, backend: KeyringBackend | None = None) -> None:
    """Store (or replace) the keys, then read them back: a backend that accepts and drops them
    must fail here, not at the first live order."""
    username = keyring_username(credentials.environment, credentials.profile)
    kr = resolve_backend(backend)
    secrets = credentials.secrets()
    with _keyring_call("storing the keys", kr, secrets):
        kr.set_password(SERVICE, username, credentials._to_keyring())
        stored = kr.get_password(SERVICE, username)
    if (
        stored is None
        or Credentials._from_keyring(stored, credentials.environment, credentials.profile)
        != credentials
    ):
        raise KeyringUnavailable(
            f"the keyring backend {backend_name(kr)} accepted the keys but reading them back "
            "gave something else"
        )


def delete_credentials(
    profile: str = DEFAULT_PROFILE,
    *,
    environment: str = "live",
    backend: KeyringBackend | None = None,
) -> bool:
    """Remove the stored keys; True if there were any."""
    username = keyring_username(environment, profile)
    kr = resolve_backend(backend)
    names = [username]
    if environment in _LEGACY_ENVIRONMENT:
        names.append(f"{_LEGACY_ENVIRONMENT[environment]}:{check_profile(profile)}")
    deleted = False
    with _keyring_call("deleting the keys", kr):
        for name in names:
            if kr.get_password(SERVICE, name) is not None:
                kr.delete_password(SERVICE, name)
                deleted = True
    return deleted
