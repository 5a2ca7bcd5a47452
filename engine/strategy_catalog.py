"""`tapedesk strategies`: every registered strategy (built-in and plugins), its one-line
description and parameters, so nobody has to type a wrong --strategy to discover them."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from typing import Any, TextIO


@dataclass(frozen=True, slots=True)
class ParamInfo:
    name: str
    type: str
    default: Any
    help: str


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    name: str
    description: str
    params: tuple[ParamInfo, ...]


def catalog() -> tuple[list[StrategyInfo], list[str]]:
    """Built-ins plus user plugins; the second list holds plugins that failed to load."""
    from tapedesk.engine.assembly import load_user_strategies
    from tapedesk.engine.strategy import available

    problems = load_user_strategies()
    infos = []
    for name, cls in sorted(available().items()):
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
        params = tuple(
            ParamInfo(key, typ.__name__, default, text)
            for key, (typ, default, text) in cls.PARAMS.items()
        )
        infos.append(StrategyInfo(name, doc[0] if doc else "", params))
    return infos, problems


def print_catalog(as_json: bool, out: TextIO = sys.stdout) -> int:
    infos, problems = catalog()
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    if as_json:
        json.dump([asdict(i) for i in infos], out, indent=2, default=str)
        out.write("\n")
        return 0
    for info in infos:
        print(f"{info.name}: {info.description}", file=out)
        for p in info.params:
            print(f"    {p.name} ({p.type}, default {p.default}): {p.help}", file=out)
    return 0
