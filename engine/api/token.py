"""The API's bearer token, kept in the OS keyring beside the Binance keys (service
``tapedesk``, username ``api:token``), never in a file, a log line or an exception.

``ApiToken`` holds it with a ``repr`` that shows nothing and compares in constant time
(``hmac.compare_digest``), so neither a traceback's locals nor a timing probe gives it away.
"""

from __future__ import annotations

import hmac
import secrets

from keyring.backend import KeyringBackend
from tapedesk.engine.keys import SERVICE, _keyring_call, resolve_backend

USERNAME = "api:token"
#: 32 random bytes, URL-safe base64 (43 characters): as strong as the keyring holding it.
TOKEN_BYTES = 32


class ApiToken:
    """The secret, wrapped: printable only on purpose (``reveal``)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.encode()

    def matches(self, presented: str | bytes | None) -> bool:
        """Constant-time comparison (the length of the secret is not a secret)."""
        if presented is None:
            return False
        if isinstance(presented, str):
            try:
                presented = presented.encode("ascii")
            except UnicodeEncodeError:
                return False
        return hmac.compare_digest(self._value, presented)

    def reveal(self) -> str:
        return self._value.decode()

    def __repr__(self) -> str:
        return "ApiToken(***)"

    __str__ = __repr__

    def __reduce__(self) -> object:
        raise TypeError("ApiToken is not picklable: it holds a secret")


def load_token(backend: KeyringBackend | None = None) -> ApiToken | None:
    kr = resolve_backend(backend)
    with _keyring_call("reading the API token", kr):
        value = kr.get_password(SERVICE, USERNAME)
    return ApiToken(value) if value else None


def new_token(backend: KeyringBackend | None = None) -> ApiToken:
    """Create (or replace: a rotation) the token, then read it back; a backend that drops
    it fails here rather than at the first request."""
    value = secrets.token_urlsafe(TOKEN_BYTES)
    kr = resolve_backend(backend)
    with _keyring_call("storing the API token", kr, (value,)):
        kr.set_password(SERVICE, USERNAME, value)
        stored = kr.get_password(SERVICE, USERNAME)
    token = ApiToken(value)
    if stored is None or not token.matches(stored):
        from tapedesk.engine.keys import KeyringUnavailable, backend_name

        raise KeyringUnavailable(f"the keyring backend {backend_name(kr)} accepted the API "
                                 "token but reading it back gave something else")
    return token


def ensure_token(backend: KeyringBackend | None = None) -> tuple[ApiToken, bool]:
    """The stored token, or a new one; True when it was just created."""
    token = load_token(backend)
    if token is not None:
        return token, False
    return new_token(backend), True


def delete_token(backend: KeyringBackend | None = None) -> bool:
    kr = resolve_backend(backend)
    with _keyring_call("deleting the API token", kr):
        if kr.get_password(SERVICE, USERNAME) is None:
            return False
        kr.delete_password(SERVICE, USERNAME)
    return True
