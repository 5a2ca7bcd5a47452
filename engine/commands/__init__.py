"""Subcommands that live in modules of their own, found by listing this folder, so a new
command touches no other file.

Each module defines ``register(sub)``: it adds its parser(s) using argparse alone and sets
``run_command=<callable(args) -> int>`` on each with ``set_defaults``. The module is imported
for every ``tapedesk`` invocation (``--help`` lists it), so its top level imports nothing
heavy: the handler imports what it needs when it runs. A handler raises the CLI's one-line
errors (``tapedesk.engine.cli.UserError``, ``ConfigError``, ...) like any built-in command.
"""

from __future__ import annotations

import argparse
import importlib
import os


def register_all(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for name in _module_names():
        if not name.startswith("_"):
            importlib.import_module(f"{__name__}.{name}").register(sub)


def _module_names() -> list[str]:
    """The modules and packages in this folder, sorted: what ``pkgutil.iter_modules`` lists,
    without importing pkgutil (~4 ms of every command's start-up)."""
    names: set[str] = set()
    for folder in __path__:
        with os.scandir(folder) as entries:
            for entry in entries:
                stem, _, ext = entry.name.partition(".")
                if not stem.isidentifier() or stem == "__init__":
                    continue
                package = not ext and os.path.isfile(os.path.join(entry.path, "__init__.py"))
                if package or (ext == "py" and entry.is_file()):
                    names.add(stem)
    return sorted(names)
