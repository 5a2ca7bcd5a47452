"""User strategies: loaded from a plugin folder or an entry-point group, never trusted blindly.

Two ways in, both ending in the normal registry (``engine.strategy.register``):

- a folder, by default ``<config dir>/strategies/*.py`` (files starting with ``_`` are
  skipped): each file is imported as its own module and registers its classes with
  ``@register("my_name")``;
- installed packages exposing the entry-point group ``tapedesk.strategies``
  (``my_name = "my_pkg.module:MyStrategy"``), registered under the entry-point name.

A user file that fails to import, or tries to replace a built-in strategy's name, is
reported in the list ``load_plugins`` returns and skipped; the desk still starts. At run
time :func:`guard` wraps a strategy's handlers so an exception (or a malformed Signal)
disables that strategy with a message instead of taking the engine loop down.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import sys
import traceback
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from tapedesk.engine.events import Signal, SignalKind
from tapedesk.engine.strategy import Strategy, available, register

ENTRY_POINT_GROUP = "tapedesk.strategies"
HANDLERS = ("on_bar", "on_quote", "on_trade", "on_mark", "on_depth")


def plugin_dir(config_dir: str | Path) -> Path:
    """Where the desk looks for user strategy files: ``<config dir>/strategies``."""
    return Path(config_dir) / "strategies"


def _where(exc: BaseException) -> str:
    """'file.py:12' of the innermost frame, so the user knows which line to open."""
    tb = traceback.extract_tb(exc.__traceback__)
    if not tb:
        return ""
    last = tb[-1]
    return f" at {Path(last.filename).name}:{last.lineno}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}{_where(exc)}"


def _load_file(path: Path, errors: list[str]) -> None:
    before = dict(available())
    module_name = f"tapedesk_user_strategy_{path.stem}"
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError("not a loadable Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except BaseException as exc:  # a user file may raise anything, even SystemExit
        sys.modules.pop(module_name, None)
        _restore(before)
        errors.append(f"user strategy file {path} was not loaded: {_describe(exc)}")
        return
    _check_overrides(before, f"user strategy file {path}", errors)


def _restore(before: dict[str, type[Strategy]]) -> None:
    """Undo whatever a failed plugin registered, so nothing half-loaded stays behind."""
    import tapedesk.engine.strategy as registry

    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def _check_overrides(before: dict[str, type[Strategy]], origin: str, errors: list[str]) -> None:
    import tapedesk.engine.strategy as registry

    for name, cls in list(registry._REGISTRY.items()):
        old = before.get(name)
        if old is not None and old is not cls:
            registry._REGISTRY[name] = old
            errors.append(
                f"{origin} tried to register {name!r}, which already exists; kept the original "
                "(rename the user strategy)"
            )


def _load_entry_points(errors: list[str], group: str) -> None:
    for ep in entry_points(group=group):
        before = dict(available())
        try:
            obj = ep.load()
            if not (isinstance(obj, type) and issubclass(obj, Strategy)):
                raise TypeError(f"{ep.value} is not a Strategy subclass")
        except BaseException as exc:
            _restore(before)
            errors.append(f"entry point {ep.name} ({ep.value}) was not loaded: {_describe(exc)}")
            continue
        if ep.name in before and before[ep.name] is not obj:
            errors.append(
                f"entry point {ep.name} ({ep.value}) uses a name that already exists; skipped"
            )
            continue
        register(ep.name)(obj)


def load_plugins(
    paths: Iterable[str | Path], *, use_entry_points: bool = True, group: str = ENTRY_POINT_GROUP
) -> list[str]:
    """Import user strategies from files/folders (and the entry-point group).

    Returns human-readable errors, one per failed plugin; an empty list means all loaded.
    A missing folder is not an error (most users have none).
    """
    errors: list[str] = []
    available()  # built-ins first, so a plugin cannot take their names
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for f in sorted(path.glob("*.py")):
                if not f.name.startswith("_"):
                    _load_file(f, errors)
        elif path.is_file():
            _load_file(path, errors)
    if use_entry_points:
        _load_entry_points(errors, group)
    return errors


def signal_problem(sig: Any) -> str:
    """'' if ``sig`` is a usable Signal, else what is wrong with it (the desk checks every
    plugin's signals with this: engine/strategy_roster.py)."""
    if not isinstance(sig, Signal):
        return f"returned {type(sig).__name__}, not a Signal"
    if sig.kind is SignalKind.EXIT:
        return ""
    for field in ("entry", "stop_loss", "take_profit"):
        value = getattr(sig, field)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return f"returned a Signal whose {field} is {value!r}"
    if sig.entry <= 0:
        return f"returned a Signal with entry {sig.entry}"
    s = sig.side.sign
    if sig.stop_loss and s * (sig.entry - sig.stop_loss) <= 0:
        return f"returned a {sig.side} Signal with its stop {sig.stop_loss} on the wrong side"
    if sig.take_profit and s * (sig.take_profit - sig.entry) <= 0:
        return f"returned a {sig.side} Signal with its target {sig.take_profit} on the wrong side"
    return ""


def guard(strategy: Strategy, on_error: Callable[[Strategy, str], None] | None = None) -> Strategy:
    """Wrap ``strategy``'s handlers in place so a fault disables it instead of crashing.

    After the first exception or malformed Signal the strategy answers None to everything,
    ``strategy.disabled_reason`` holds the message and ``on_error(strategy, message)`` is
    called once (the engine journals it and marks the strategy off). ``handles()`` is
    unchanged, so the engine still skips handlers the strategy does not override.
    """
    if getattr(strategy, "_guarded", False):
        return strategy
    strategy.disabled_reason = ""  # type: ignore[attr-defined]
    name = strategy.name or type(strategy).__name__

    def fail(message: str) -> None:
        if strategy.disabled_reason:  # type: ignore[attr-defined]
            return
        text = f"strategy {name} disabled: {message}"
        strategy.disabled_reason = text  # type: ignore[attr-defined]
        if on_error is not None:
            with contextlib.suppress(Exception):  # reporting must not become the crash
                on_error(strategy, text)

    def wrap(method_name: str, bound: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def guarded(event: Any) -> Any:
            if strategy.disabled_reason:  # type: ignore[attr-defined]
                return None
            try:
                out = bound(event)
            except Exception as exc:
                fail(f"{_describe(exc)} in {method_name}")
                return None
            if out is None:
                return None
            bad = signal_problem(out)
            if bad:
                fail(f"{method_name} {bad}")
                return None
            return out

        return guarded

    for method_name in HANDLERS:
        bound = getattr(strategy, method_name, None)
        if bound is not None and (method_name == "on_depth" or strategy.handles(method_name)):
            setattr(strategy, method_name, wrap(method_name, bound))

    for method_name in ("on_start", "on_stop"):
        bound = getattr(strategy, method_name)

        def lifecycle(*args: Any, _m: str = method_name, _b: Any = bound) -> None:
            if strategy.disabled_reason:  # type: ignore[attr-defined]
                return
            try:
                _b(*args)
            except Exception as exc:
                fail(f"{_describe(exc)} in {_m}")

        setattr(strategy, method_name, lifecycle)
    strategy._guarded = True  # type: ignore[attr-defined]
    return strategy
