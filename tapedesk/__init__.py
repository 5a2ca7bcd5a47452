"""Tapedesk: a keyboard-driven terminal trading desk for Binance USDT-M perpetual futures.

The installed package is one namespace: ``tapedesk.engine`` (no Textual anywhere),
``tapedesk.tui`` (the desk) and ``tapedesk.themes``. In the source tree those folders sit at
the top level and pyproject's ``package-dir`` maps them here.

The plugin API is re-exported lazily so ``import tapedesk`` (and ``tapedesk --help``) stays
cheap::

    from tapedesk import Strategy, Signal, Side, register  # docs/strategies.md
"""

from __future__ import annotations

import os as _os
from typing import Any

# A source checkout (tests, worktrees) resolves the subpackages from the folders beside this
# one, so the tree under test is always the tree on disk, whatever else is installed.
_here = _os.path.dirname(_os.path.abspath(__file__))
_root = _os.path.dirname(_here)
if _os.path.isfile(_os.path.join(_root, "engine", "engine.py")) and _root not in __path__:
    __path__.append(_root)

_PLUGIN_API = {
    "Strategy": "tapedesk.engine.strategy",
    "register": "tapedesk.engine.strategy",
    "Signal": "tapedesk.engine.events",
    "Side": "tapedesk.engine.events",
    "Bar": "tapedesk.engine.events",
    "Quote": "tapedesk.engine.events",
    "Trade": "tapedesk.engine.events",
    "MarkPrice": "tapedesk.engine.events",
    "Depth": "tapedesk.engine.events",
}

__all__ = [
    "Bar",
    "Depth",
    "MarkPrice",
    "Quote",
    "Side",
    "Signal",
    "Strategy",
    "Trade",
    "__version__",
    "register",
]


def _package_version() -> str:
    """The installed version (importlib.metadata costs ~10 ms: read only when asked)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tapedesk")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+source"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()["__version__"] = value = _package_version()
        return value
    module = _PLUGIN_API.get(name)
    if module is None:
        raise AttributeError(f"module 'tapedesk' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
