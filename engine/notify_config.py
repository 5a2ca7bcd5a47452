"""``[notify]`` and ``[telegram]``: how a desk tells a trader who is away, and the phone bot.

The config file never holds a secret. ``notify.urls`` lists *names*; each name's Apprise URL
(which carries the service's token) is stored in the OS keyring by ``tapedesk notify add
NAME``. The bot token is stored by ``tapedesk notify telegram-token``. A URL written into the
file is refused, and the refusal does not repeat it (the error would print it to a terminal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator
from tapedesk.engine.config_section import Section

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: What a notification can be about; ``[notify] events`` picks among them.
EventKind = Literal["fill", "exit", "halt", "day_lock", "unprotected", "reconnect_storm",
                    "error"]
EVENT_KINDS: tuple[str, ...] = EventKind.__args__  # type: ignore[attr-defined]
_HIDDEN = "<a URL or secret, not repeated here>"


def _hidden(value: Any) -> Any:
    """``value`` with every string that is not a plain name replaced, so a pasted URL is
    never echoed by an error message (which prints the refused value), whatever shape it
    was pasted in: a string, a list, nested in a list or table. Every shape pydantic takes
    for a list (tuple, set, deque, generator, a dict's keys) or a string (bytes) too: code
    may assign any of them, and what is not looked at here was taken unchecked."""
    if isinstance(value, bytes | bytearray):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value if NAME_RE.match(value) else _HIDDEN
    if isinstance(value, Mapping):
        return {_hidden(k): _hidden(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_hidden(v) for v in value]
    return value


def _check_name(value: str) -> str:
    if value == _HIDDEN or not NAME_RE.match(value):  # the second: whatever slipped past
        raise ValueError("is not a name: the config file holds only names; store the service's "
                         "URL with `tapedesk notify add NAME` (it goes to the keyring) and "
                         "list NAME here")
    return value


class NotifyConfig(Section):
    """Notifications through Apprise: off while ``urls`` is empty."""

    #: Names of services stored in the keyring (``tapedesk notify add NAME``).
    urls: list[Annotated[str, AfterValidator(_check_name)]] = Field(default_factory=list)
    #: Which kinds of event are sent.
    events: list[EventKind] = Field(default_factory=lambda: list(EVENT_KINDS))
    #: Routine events (fills, exits) are folded into one message per window.
    batch_window_s: float = Field(60.0, ge=0, le=3600)
    #: Token bucket per service: at most ``burst`` messages at once, refilled at
    #: ``per_minute``; what cannot be sent yet waits and is folded into the next message.
    burst: int = Field(3, ge=1, le=100)
    per_minute: float = Field(2.0, gt=0, le=600)
    #: A position is reported UNPROTECTED once it has had no exchange stop this long (every
    #: entry is briefly unprotected until its stop is acknowledged).
    unprotected_after_s: float = Field(3.0, ge=0, le=600)
    #: ``reconnects`` stream reconnects within ``storm_window_s`` make a reconnect storm.
    storm_reconnects: int = Field(5, ge=1, le=1000)
    storm_window_s: float = Field(300.0, gt=0, le=86_400)

    @field_validator("urls", mode="before")
    @classmethod
    def _hide(cls, v: Any) -> Any:
        # a field validator, not a model one: pydantic runs it on assignment too, and on
        # assignment a model validator's changes to the data are not what gets validated
        return _hidden(v)

    @field_validator("urls")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a name is listed more than once")
        return v


class TelegramConfig(Section):
    """The phone bot (long polling, no inbound port): off by default."""

    enabled: bool = False
    #: Only these chats get answers; every other chat is refused and logged.
    allowed_chat_ids: list[int] = Field(default_factory=list)
    #: The Bot API server (a self-hosted one, or a local stand-in in tests).
    api_url: str = "https://api.telegram.org/bot"

    @model_validator(mode="after")
    def _someone(self) -> TelegramConfig:
        if self.enabled and not self.allowed_chat_ids:
            raise ValueError("enabled without allowed_chat_ids: list the chat ids that may "
                             "use the bot")
        return self

    @field_validator("api_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+(/\S*)?$", v):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org/bot")
        return v
