"""The prompts of `tapedesk keys` (and `notify`): answers read without echo from a terminal,
or line by line from piped input; a private key file read without ever repeating a name
that may be a secret pasted one prompt too late.
"""

from __future__ import annotations

import getpass
import os
import re
from typing import TextIO

from tapedesk.engine.keys import InvalidCredentials


class Cancelled(Exception):
    """The user (or the end of piped input) stopped the prompts."""


class Prompter:
    """Reads answers from a terminal without echo, or line by line from piped input.

    Piped input lets a provisioning script feed key, secret and an empty line to `keys set`.
    """

    def __init__(self, stdin: TextIO, out: TextIO) -> None:
        self.stdin = stdin
        self.out = out
        try:
            self.interactive = stdin.isatty()
        except (AttributeError, ValueError):
            self.interactive = False

    def _line(self, prompt: str) -> str:
        self.out.write(prompt)
        self.out.flush()
        line = self.stdin.readline()
        if line == "":
            raise Cancelled("input ended")
        if not self.interactive:
            self.out.write("\n")
        return line.strip()

    def secret(self, prompt: str) -> str:
        if self.interactive:
            try:
                return getpass.getpass(prompt).strip()
            except EOFError:
                raise Cancelled("input ended") from None
        return self._line(prompt)

    def plain(self, prompt: str) -> str:
        return self._line(prompt)

    def confirm(self, prompt: str) -> bool:
        return self.plain(f"{prompt} [y/N] ").lower() in ("y", "yes")


def _shown_path(path: str) -> str:
    """The path as typed, only if it plainly is one: text typed at a prompt may be a secret
    pasted one prompt too late, and an error message must never repeat that."""
    if os.sep in path or path.startswith("~") or re.search(r"\.(pem|key|txt|der)$", path):
        return path
    return "the file named at the prompt (name not repeated: it does not look like a path)"


def read_private_key(path: str) -> str:
    expanded = os.path.expanduser(path)
    try:
        with open(expanded, encoding="ascii") as handle:
            return handle.read(10_000)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
        raise InvalidCredentials(
            "private_key", f"cannot read {_shown_path(path)}: {reason}"
        ) from None

