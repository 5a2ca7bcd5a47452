"""The strategy interface and the registry strategies are found by name in.

A strategy sees market events and may answer with a ``Signal``; it never sizes, places or
cancels orders. Risk decides if and how much; the venue executes. This keeps one
implementation of each trading rule and lets backtest, paper and live share strategies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from tapedesk.engine.events import Bar, Depth, MarkPrice, Position, Quote, Signal, Trade


class StrategyContext(Protocol):
    """What a strategy may ask the engine (read-only)."""

    def position(self, symbol: str) -> Position | None: ...

    def now(self) -> int: ...


class StrategyError(Exception):
    """A strategy could not be built or misbehaved: the desk disables it and says why."""


class Strategy:
    """Base class. Override only the handlers you need; the engine calls only those.

    ``params`` are validated by ``PARAMS`` (name → (type, default, help)) so a typo in
    ``--param`` or in a config's ``[[strategies]] params`` is an error naming the parameter
    and the known ones, not a silently ignored value. Text (``--param``) and typed TOML
    values go through the same ``coerce_param``.
    """

    name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, tuple[type, Any, str]]] = {}

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: Any) -> None:
        unknown = set(params) - set(self.PARAMS)
        if unknown:
            raise StrategyError(
                f"{self.name}: unknown parameter(s) {', '.join(sorted(map(_name, unknown)))}; "
                f"known: {known_params(type(self))}"
            )
        self.params: dict[str, Any] = {}
        for key, (typ, default, _help) in self.PARAMS.items():
            raw = params.get(key, default)
            try:
                self.params[key] = coerce_param(typ, raw)
            except (TypeError, ValueError, OverflowError) as exc:
                raise StrategyError(
                    f"{self.name}: parameter {key}={_short(raw)} is not a {_kind(typ)}"
                ) from exc
        self.symbols = tuple(s.upper() for s in symbols) if symbols else None
        self.ctx: StrategyContext | None = None

    def on_start(self, ctx: StrategyContext) -> None:
        self.ctx = ctx

    def on_bar(self, bar: Bar) -> Signal | None:
        return None

    def on_quote(self, quote: Quote) -> Signal | None:
        return None

    def on_trade(self, trade: Trade) -> Signal | None:
        return None

    def on_mark(self, mark: MarkPrice) -> Signal | None:
        return None

    def on_depth(self, depth: Depth) -> Signal | None:
        return None

    def on_stop(self) -> None:
        pass

    def handles(self, method: str) -> bool:
        """True if this strategy overrides ``method`` (the engine skips the rest)."""
        return getattr(type(self), method) is not getattr(Strategy, method)


def known_params(cls: type[Strategy]) -> str:
    """``fast (int), slow (int)`` — for messages that name what a strategy accepts."""
    return ", ".join(f"{k} ({t.__name__})" for k, (t, _d, _h) in cls.PARAMS.items()) or "none"


def coerce_param(typ: type, raw: Any) -> Any:
    """One parameter value (text from ``--param`` or a TOML value) → ``typ``, strictly:
    no 2.7 → 2 for an int, no NaN/inf for a float, no list/table where a scalar belongs."""
    if isinstance(raw, list | dict | tuple | set):
        raise TypeError("not a scalar")
    if typ is bool:
        return _parse_bool(raw)
    if typ is int:
        if isinstance(raw, bool):
            raise TypeError("a boolean is not an int")
        if isinstance(raw, float):
            if not raw.is_integer():
                raise ValueError("not a whole number")
            return int(raw)
        return int(str(raw).strip()) if isinstance(raw, str) else int(raw)
    if typ is float:
        if isinstance(raw, bool):
            raise TypeError("a boolean is not a float")
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError("not finite")
        return value
    if typ is str and not isinstance(raw, str):
        raise TypeError("not text")
    return typ(raw)


def _kind(typ: type) -> str:
    return {int: "whole number (int)", float: "finite number (float)",
            bool: "boolean (true/false)", str: "text (str)"}.get(typ, typ.__name__)


def _name(key: Any) -> str:
    """A parameter name as typed, quoted when it is not a plain name (never a raw newline)."""
    key = str(key)
    return key if key.isidentifier() else _short(key)


def _short(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_bool(raw: Any) -> bool:
    """``bool("false")`` is True; a parameter given as text means what it says."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


_REGISTRY: dict[str, type[Strategy]] = {}


def register(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    def deco(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def available() -> dict[str, type[Strategy]]:
    _load_builtins()
    return dict(_REGISTRY)


def create(name: str, symbols: tuple[str, ...] | None = None, **params: Any) -> Strategy:
    _load_builtins()
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise StrategyError(
            f"unknown strategy {_short(name)}; available: {', '.join(sorted(_REGISTRY))}"
        )
    try:
        return cls(symbols=symbols, **params)
    except StrategyError:
        raise
    except (TypeError, ValueError, ArithmeticError) as exc:  # a value its own checks missed
        raise StrategyError(f"{name}: parameters rejected: {exc}") from exc


def _load_builtins() -> None:
    import tapedesk.engine.strategies  # noqa: F401  (registers the built-ins)
