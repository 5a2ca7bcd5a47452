"""The base of every config section, and how a refused value is put into words.

A value is refused the same way whether it comes from the config file or is assigned from
code (a settings screen, a command): one line naming the field path with its section
(``risk.max_leverage: Input should be greater than or equal to 1, got -1``). pydantic's
own assignment error names only the field (``max_leverage``), in four lines with a link,
and keeps a value that a rule across fields refused; ``Section`` fixes both.

Lives apart from ``config`` so the sections defined elsewhere (``[notify]``, ``[api]``,
``[market_data]``) share it without importing the whole desk config.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError


class ConfigError(Exception):
    """A config file that cannot be used; the message is meant for the user as is."""


class SettingError(ConfigError, ValueError):
    """A value assigned to a setting and refused (the setting keeps its old value). A
    ValueError too, as pydantic's assignment error was."""


#: Each section class's place in the desk config: (field name, whether it is a list item).
#: Filled by ``name_sections`` when the desk config is defined.
_PLACES: dict[type[BaseModel], tuple[str, bool]] = {}
_UNSET = object()
#: One assignment at a time, across every section: putting the old value back after a refusal
#: must not undo another thread's accepted value, pydantic replaces a section's whole
#: ``__dict__`` on each assignment (two threads setting two fields lose one), and its
#: first-use build of a ``defer_build`` class is not thread-safe (two threads left the class
#: refusing every assignment: "validate_assignment is not supported"). Assignments are rare.
_ASSIGNING = threading.RLock()


class Section(BaseModel):
    """A ``[section]`` of the desk config: unknown keys refused, assignments checked.
    ``defer_build``: no schema is built until a section is first validated (a backtest
    without a config file never is)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)

    def __setattr__(self, name: str, value: Any) -> None:
        fields = type(self).model_fields
        if name not in fields:
            if name.startswith("_"):  # pydantic's and our private attributes
                super().__setattr__(name, value)
                return
            raise SettingError(f"{self._path(name)}: unknown field (check the spelling; "
                               "see example_config.toml)")
        with _ASSIGNING:
            if not type(self).__pydantic_complete__:
                type(self).model_rebuild()  # the deferred build, never two at once
            old, was_set = self.__dict__.get(name, _UNSET), set(self.__pydantic_fields_set__)
            try:
                super().__setattr__(name, value)
            except ValidationError as exc:
                # pydantic has already stored the value when a rule across fields refuses it
                if old is not _UNSET:
                    self.__dict__[name] = old
                object.__setattr__(self, "__pydantic_fields_set__", was_set)
                raise SettingError("\n".join(problem(err, self._path(), name)
                                             for err in exc.errors())) from None

    def _path(self, name: str = "") -> str:
        """``risk``, ``strategies[ema_cross]`` (an entry by its name), ``""`` at the top;
        with ``name``, that field's path."""
        place, item = _PLACES.get(type(self), ("", False))
        if item:
            place = f"{place}[{_key(getattr(self, 'name', ''))}]"
        return f"{place}.{name}" if place and name else place or name


def name_sections(root: type[BaseModel]) -> None:
    """Record where each section of ``root`` sits (``RiskConfig`` → ``risk``), for the
    words of a refused assignment. Sections nest one level: a section holds no section."""
    for name, field in root.model_fields.items():
        many = get_origin(field.annotation) is list
        for t in (field.annotation, *get_args(field.annotation)):
            if isinstance(t, type) and issubclass(t, Section):
                _PLACES.setdefault(t, (name, many))


def problem(err: Any, where: str = "", assigned: str | None = None) -> str:
    """One refusal as ``path: what is wrong`` (list items as ``strategies[0].name``; long
    values shortened). ``assigned``: the field an assignment set, named when a rule across
    fields refused it (pydantic places that on the whole section)."""
    loc = err["loc"]
    across = not loc and assigned is not None
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{_key(p)}"
                   for p in ((assigned,) if across else loc))
    path = f"{where}{path}" if where else path.lstrip(".")
    msg = " ".join(str(err["msg"]).split()).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling; see example_config.toml)"
    elif "input" in err and err["type"] not in ("missing",) and not across:
        msg = f"{msg}, got {_short(err['input'])}"
    return f"{path or '(top level)'}: {msg}"


def _key(part: Any) -> str:
    """A field name as written, quoted when it is not a plain name (a key may hold a line
    separator such as U+0085, which must not split the one-line message)."""
    text = str(part)
    return text if text.replace("-", "_").isidentifier() or (
        isinstance(part, Path) and text.isprintable()) else _unsecret(repr(text))


def _short(value: Any) -> str:
    text = _unsecret(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


_URL = re.compile(r"([A-Za-z][\w+.-]*://)([^\s'\"/?#]*)([^\s'\"]*)")


def _unsecret(text: str) -> str:
    """``text`` with each URL cut to its scheme and host: a URL's user part may hold a
    password, its path a token (``https://api.telegram.org/bot<token>``, an Apprise URL), and
    a refusal is printed (``https://user:pw@host/x`` → ``https://...@host/...``)."""
    def cut(m: re.Match[str]) -> str:
        scheme, authority, rest = m.groups()
        user, _, host = authority.rpartition("@")
        _name, _, port = host.partition(":")
        if port and not port.isdigit():  # tgram://BOT_ID:TOKEN/...: no host at all
            return f"{scheme}..."
        return f"{scheme}{'...@' if user else ''}{host}{'/...' if rest else ''}"

    return _URL.sub(cut, text)
