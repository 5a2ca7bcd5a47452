"""Parsing ``--strategy`` and ``--param`` for ``tapedesk backtest`` (the CLI calls these).

``--strategy`` may repeat, or be ``all``; ``--param`` takes ``strategy.key=value`` (or
``key=value`` when exactly one strategy is selected). Every mistake is an error that names
the flag and the value, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

from tapedesk.engine.strategy import Strategy, StrategyError, available, create


class SelectionError(ValueError):
    """A bad --strategy/--param value; the message is for the user as is."""


def select_strategies(names: Sequence[str] | None) -> list[str]:
    """Resolve ``--strategy`` values (repeatable, comma lists allowed, ``all``) to names."""
    known = available()
    if not names:
        raise SelectionError(f"--strategy is required; available: {', '.join(sorted(known))}, all")
    out: list[str] = []
    for raw in names:
        for name in (n.strip() for n in raw.split(",")):
            if not name:
                continue
            if name == "all":
                out.extend(n for n in sorted(known) if n not in out)
            elif name not in known:
                raise SelectionError(
                    f"--strategy {name!r} is unknown; available: {', '.join(sorted(known))}, all"
                )
            elif name not in out:
                out.append(name)
    if not out:
        raise SelectionError("--strategy was given but named no strategy")
    return out


def parse_params(items: Sequence[str] | None, selected: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["ema_cross.fast=12", ...]`` → ``{"ema_cross": {"fast": "12"}}`` (values as text).

    The strategy's own ``PARAMS`` types convert and validate them when it is built.
    """
    out: dict[str, dict[str, str]] = {name: {} for name in selected}
    known = available()
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SelectionError(f"--param {item!r} must look like strategy.name=value")
        key = key.strip()
        if "." in key:
            strat, _, pname = key.partition(".")
        elif len(selected) == 1:
            strat, pname = selected[0], key
        else:
            raise SelectionError(
                f"--param {item!r}: say which strategy, e.g. {selected[0]}.{key}={value}"
            )
        if strat not in out:
            raise SelectionError(
                f"--param {item!r}: strategy {strat!r} is not selected "
                f"(selected: {', '.join(selected)})"
            )
        params = known[strat].PARAMS
        if pname not in params:
            raise SelectionError(
                f"--param {item!r}: {strat} has no parameter {pname!r}; "
                f"known: {', '.join(params) or 'none'}"
            )
        out[strat][pname] = value.strip()
    return out


def build_strategies(
    names: Sequence[str] | None,
    param_items: Sequence[str] | None = None,
    symbols: tuple[str, ...] | None = None,
) -> list[Strategy]:
    """One call for the CLI: resolve, parse and construct, errors as SelectionError."""
    selected = select_strategies(names)
    params = parse_params(param_items, selected)
    built: list[Strategy] = []
    for name in selected:
        try:
            built.append(create(name, symbols, **params[name]))
        except StrategyError as exc:
            raise SelectionError(f"--param: {exc}") from exc
    return built


def describe_params(name: str) -> str:
    """``tapedesk strategies`` style help: one line per parameter with type and default."""
    cls = available()[name]
    lines = [f"{name}: {(cls.__doc__ or '').strip().splitlines()[0] if cls.__doc__ else ''}"]
    for key, (typ, default, help_) in cls.PARAMS.items():
        lines.append(f"  {name}.{key}={default!r:<10} ({typ.__name__}) {help_}")
    return "\n".join(lines)
