"""Notification URLs and the Telegram bot token in the OS keyring (service ``tapedesk``).

An Apprise URL carries its service's token (``tgram://TOKEN/CHAT``), so it is a secret: the
config file names it, the keyring item ``notify:NAME`` holds it. The bot token is the item
``telegram:bot``. ``secret_parts`` gives every piece of a URL that could be a credential, so
log lines from Apprise, httpx or python-telegram-bot can be scrubbed of them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from keyring.backend import KeyringBackend
from tapedesk.engine.keys import SERVICE, _keyring_call, resolve_backend, scrub
from tapedesk.engine.notify_config import NAME_RE

TELEGRAM_ITEM = "telegram:bot"
_BOT_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")


def notify_item(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError("name: must be 1–64 letters, digits, '.', '_' or '-'")
    return f"notify:{name}"


def check_bot_token(token: str) -> str:
    """A Telegram bot token's shape (``123456:ABC…``); the error never shows the value."""
    token = token.strip()
    if not _BOT_TOKEN.match(token):
        raise ValueError("bot token: not a Telegram bot token (digits, ':', then 20–100 "
                         "letters, digits, '_' or '-', as BotFather gives it)")
    return token


def _get(item: str, backend: KeyringBackend | None) -> str | None:
    kr = resolve_backend(backend)
    with _keyring_call(f"reading {item}", kr):
        return kr.get_password(SERVICE, item)


def _set(item: str, value: str, backend: KeyringBackend | None) -> None:
    kr = resolve_backend(backend)
    with _keyring_call(f"storing {item}", kr, secret_parts(value)):
        kr.set_password(SERVICE, item, value)
        back = kr.get_password(SERVICE, item)
    if back != value:
        from tapedesk.engine.keys import KeyringUnavailable, backend_name

        raise KeyringUnavailable(f"the keyring backend {backend_name(kr)} accepted {item} but "
                                 "reading it back gave something else")


def _delete(item: str, backend: KeyringBackend | None) -> bool:
    kr = resolve_backend(backend)
    with _keyring_call(f"deleting {item}", kr):
        if kr.get_password(SERVICE, item) is None:
            return False
        kr.delete_password(SERVICE, item)
    return True


def load_url(name: str, backend: KeyringBackend | None = None) -> str | None:
    return _get(notify_item(name), backend)


def save_url(name: str, url: str, backend: KeyringBackend | None = None) -> None:
    _set(notify_item(name), url, backend)


def delete_url(name: str, backend: KeyringBackend | None = None) -> bool:
    return _delete(notify_item(name), backend)


def load_bot_token(backend: KeyringBackend | None = None) -> str | None:
    return _get(TELEGRAM_ITEM, backend)


def save_bot_token(token: str, backend: KeyringBackend | None = None) -> None:
    _set(TELEGRAM_ITEM, check_bot_token(token), backend)


def delete_bot_token(backend: KeyringBackend | None = None) -> bool:
    return _delete(TELEGRAM_ITEM, backend)


def secret_parts(url: str) -> tuple[str, ...]:
    """The URL and each part of it that may be a credential: user, password, host (Telegram's
    token sits where a host would), path segments, query values, and Apprise's masked forms
    of them; longest first so a part inside another is scrubbed after it. Short parts
    (< 6 characters) are left: ports, ``bot``."""
    parts = {url}
    try:
        u = urlsplit(url)
        pieces = [u.username, u.password, u.hostname, u.netloc, *re.split(r"[:@]", u.netloc),
                  *u.path.split("/"),
                  *(kv.partition("=")[2] for kv in u.query.split("&"))]
    except ValueError:
        pieces = re.split(r"[/:@?&=]", url)
    for p in pieces:
        if p and len(p) >= 6:
            parts.update({p, unquote(p)})
    # Apprise's own "privacy" forms of them in its log lines ("p...w", "...wxyz").
    parts.update(m for p in list(parts) if p != url for m in (f"{p[0]}...{p[-1]}",
                                                                f"...{p[-4:]}"))
    return tuple(sorted(parts, key=len, reverse=True))


class ScrubSecrets(logging.Filter):
    """Replaces the given secrets in a record's message (and drops its traceback text, which
    would carry them in exception messages) before any handler sees it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            return True
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = scrub(text, self.secrets), None
        return True


#: Libraries whose log lines can carry a URL with a token in it (httpx logs every request).
NOISY_LOGGERS = ("apprise", "httpx", "httpcore", "telegram", "requests", "urllib3")


def guard_logs(secrets: Iterable[str], filt: ScrubSecrets | None = None) -> ScrubSecrets:
    """Keep tokens out of library log lines. A logger filter acts only on records created on
    that very logger, so every existing logger of the libraries above gets one scrubbing
    filter (call again with the same ``filt`` once new ones exist); and their DEBUG/INFO
    lines, which print request URLs (httpx, python-telegram-bot's "Set Bot API URL"), are
    kept out by a WARNING level on each library's top logger. Returns the filter, for
    ``unguard_logs``."""
    filt = filt or ScrubSecrets(secrets)
    for name in _library_loggers():
        logging.getLogger(name).addFilter(filt)
    for name in NOISY_LOGGERS:
        top = logging.getLogger(name)
        if top.getEffectiveLevel() < logging.WARNING:
            top.setLevel(logging.WARNING)
    return filt


def unguard_logs(filt: ScrubSecrets) -> None:
    for name in _library_loggers():
        logging.getLogger(name).removeFilter(filt)


def _library_loggers() -> list[str]:
    names = list(logging.root.manager.loggerDict)
    return [n for n in names if n.split(".")[0] in NOISY_LOGGERS] + list(NOISY_LOGGERS)
