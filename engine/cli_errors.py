"""How `tapedesk` ends a failed command: one plain line on stderr and an exit code, never a
traceback (a config error: one line per problem, each naming its field).

Imports nothing heavy: the errors of other modules are recognised by name, and only once
their module is loaded (an error cannot come from a module that never ran).
"""

from __future__ import annotations

import sys


class UserError(Exception):
    """Something the user can fix; printed as one line."""


def report(exc: Exception) -> int:
    """Print ``exc`` as the user should see it; returns the exit code."""
    if _raised(exc, "tapedesk.engine.config_section", "ConfigError"):
        for line in str(exc).splitlines():  # one line per problem, each naming its field
            print(f"tapedesk: {line}", file=sys.stderr)
        return 2
    if isinstance(exc, UserError | FileNotFoundError) or any(
            _raised(exc, m, n) for m, n in _USER_ERRORS):
        print(f"tapedesk: {_one_line(exc)}", file=sys.stderr)
        return 2
    return _unexpected(exc)


#: (module, class) of the errors a user can cause and fix: one line, exit 2. Matched only if
#: the module was imported (an error cannot come from a module that never ran), so ``main``
#: imports none of them.
_USER_ERRORS = (
    ("tapedesk.engine.feeds.checks", "DataError"),
    ("tapedesk.engine.strategy", "StrategyError"),
    ("tapedesk.engine.paths", "DataDirError"),
    ("tapedesk.engine.desk_lock", "DeskRunning"),
    ("tapedesk.engine.desk_lock", "DeskLockError"),
    ("tapedesk.engine.journal_health", "JournalError"),
)


def _raised(exc: BaseException, module: str, name: str) -> bool:
    mod = sys.modules.get(module)
    return mod is not None and isinstance(exc, getattr(mod, name))


def _unexpected(exc: Exception) -> int:
    if isinstance(exc, BrokenPipeError):
        return _closed_pipe()
    if isinstance(exc, OSError):  # a path the user gave that cannot be used, a full disk, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"tapedesk: {where}{exc.strerror or _one_line(exc)}", file=sys.stderr)
        return 1
    import logging  # the last line of defence: never a traceback for the user

    logging.getLogger("tapedesk").debug("unexpected error", exc_info=True)
    print(
        f"tapedesk: unexpected error: {type(exc).__name__}: {_one_line(exc)} "
        "(a bug; --log-level DEBUG shows where)",
        file=sys.stderr,
    )
    return 1


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else type(exc).__name__
    return f"{lines[0]} (+{len(lines) - 1} more: {'; '.join(lines[1:])})"


def _closed_pipe() -> int:
    """The reader went away (``tapedesk trades --csv | head -1``): stop quietly.

    stdout is pointed at /dev/null so the interpreter's final flush cannot fail again and
    print "Exception ignored ... BrokenPipeError". 141 is what a shell reports for SIGPIPE.
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141

