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
import pkgutil


def register_all(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(sub)
