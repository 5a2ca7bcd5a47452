"""``--param`` for ``tapedesk optimize``: a value, a range or a list, checked against the
strategy's own parameter types before any trial runs.

Syntax (one ``--param`` per parameter; ``strategy.name=`` is accepted too):

- ``name=a..b`` an int range (int parameter, whole-number bounds) or a float range;
  ``name=a..b:step`` with a step (the range is then a grid of ``a + k*step``);
- ``name=a,b,c`` a list of choices (any type: ``timeframe=1m,5m,15m``, ``reverse=true,false``);
- ``name=v`` a fixed value, the same in every trial.

Every mistake is a :class:`SearchSpaceError` with one line naming the parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tapedesk.engine.strategy import available, coerce_param, known_params


class SearchSpaceError(ValueError):
    """A bad ``--param`` for optimize; the message is one line for the user."""


@dataclass(frozen=True)
class Dimension:
    """One searched parameter. ``kind``: ``int``, ``float`` or ``choice``."""

    name: str
    kind: str
    low: Any = None
    high: Any = None
    step: Any = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        if self.kind == "int":
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1)
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, step=self.step)
        return trial.suggest_categorical(self.name, list(self.choices))

    def spread(self, values: list[Any]) -> float:
        """How far apart ``values`` lie, 0..1 of the searched range (choices: share of
        distinct values beyond the first), for the parameter-stability warning."""
        if len(values) < 2:
            return 0.0
        if self.kind == "choice":
            return (len(set(map(str, values))) - 1) / max(1, len(values) - 1)
        width = float(self.high) - float(self.low)
        return (max(values) - min(values)) / width if width > 0 else 0.0

    def describe(self) -> str:
        if self.kind == "choice":
            return ",".join(map(_text, self.choices))
        step = f":{_text(self.step)}" if self.step is not None else ""
        return f"{_text(self.low)}..{_text(self.high)}{step}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "low": self.low, "high": self.high,
                "step": self.step, "choices": list(self.choices)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Dimension:
        return cls(d["name"], d["kind"], d["low"], d["high"], d["step"], tuple(d["choices"]))


def _text(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def parse_space(
    strategy: str, items: list[str]
) -> tuple[list[Dimension], dict[str, Any]]:
    """``--param`` items → (searched dimensions, fixed parameter values)."""
    registry = available()
    if strategy not in registry:
        raise SearchSpaceError(
            f"unknown strategy {strategy!r}; available: {', '.join(sorted(registry))}"
        )
    params = registry[strategy].PARAMS
    dims: list[Dimension] = []
    fixed: dict[str, Any] = {}
    for item in items:
        key, sep, spec = item.partition("=")
        key = key.strip().removeprefix(f"{strategy}.")
        spec = spec.strip()
        if not sep or not key or not spec:
            raise SearchSpaceError(f"--param {item!r}: use name=a..b, name=a,b,c or name=value")
        if key not in params:
            raise SearchSpaceError(
                f"--param {item!r}: {strategy} has no parameter {key!r}; "
                f"known: {known_params(registry[strategy])}"
            )
        if key in fixed or any(d.name == key for d in dims):
            raise SearchSpaceError(f"--param {item!r}: {key} is given twice")
        typ = params[key][0]
        if ".." in spec:
            dims.append(_range(key, typ, spec, item))
        elif "," in spec:
            choices = tuple(_value(key, typ, v.strip(), item) for v in spec.split(","))
            if len(set(map(str, choices))) != len(choices):
                raise SearchSpaceError(f"--param {item!r}: {key} lists a choice twice")
            dims.append(Dimension(key, "choice", choices=choices))
        else:
            fixed[key] = _value(key, typ, spec, item)
    if not dims:
        raise SearchSpaceError(
            "nothing to search: give at least one --param with a range (name=a..b) or a "
            "list (name=a,b,c)"
        )
    return dims, fixed


def _value(key: str, typ: type, text: str, item: str) -> Any:
    try:
        return coerce_param(typ, text)
    except (TypeError, ValueError, OverflowError):
        raise SearchSpaceError(
            f"--param {item!r}: {key} is {_article(typ)} {typ.__name__}; {text!r} is not one"
        ) from None


def _article(typ: type) -> str:
    return "an" if typ.__name__[0] in "aeiou" else "a"


def _range(key: str, typ: type, spec: str, item: str) -> Dimension:
    if typ not in (int, float):
        raise SearchSpaceError(
            f"--param {item!r}: {key} is {_article(typ)} {typ.__name__}: list the choices (a,b,c), "
            "a range needs a number"
        )
    bounds, _, step_text = spec.partition(":")
    lo_text, _, hi_text = bounds.partition("..")
    lo = _value(key, typ, lo_text.strip(), item)
    hi = _value(key, typ, hi_text.strip(), item)
    step = _value(key, typ, step_text.strip(), item) if step_text else None
    if not lo < hi:
        raise SearchSpaceError(f"--param {item!r}: {key}: the low bound must be below the high")
    if step is not None and not (step > 0 and math.isfinite(step)):
        raise SearchSpaceError(f"--param {item!r}: {key}: the step must be above 0")
    if step is not None and step > hi - lo:
        raise SearchSpaceError(f"--param {item!r}: {key}: the step is wider than the range")
    return Dimension(key, "int" if typ is int else "float", lo, hi, step)
