"""The strategy interface and the registry strategies are found by name in.

A strategy sees market events and may answer with a ``Signal``; it never sizes, places or
cancels orders. Risk decides if and how much; the venue executes. This keeps one
implementation of each trading rule and lets backtest, paper and live share strategies.
"""

from __future__ import annotations

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
    ``--param`` is an error naming the parameter, not a silently ignored value.
    """

    name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, tuple[type, Any, str]]] = {}

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: Any) -> None:
        unknown = set(params) - set(self.PARAMS)
        if unknown:
            raise StrategyError(
                f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(self.PARAMS) or 'none'}"
            )
        self.params: dict[str, Any] = {}
        for key, (typ, default, _help) in self.PARAMS.items():
            raw = params.get(key, default)
            try:
                self.params[key] = _parse_bool(raw) if typ is bool else typ(raw)
            except (TypeError, ValueError) as exc:
                raise StrategyError(
                    f"{self.name}: parameter {key}={raw!r} is not a {typ.__name__}"
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
    cls = _REGISTRY.get(name)
    if cls is None:
        raise StrategyError(f"unknown strategy {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return cls(symbols=symbols, **params)


def _load_builtins() -> None:
    import tapedesk.engine.strategies  # noqa: F401  (registers the built-ins)
