"""``tapedesk optimize --write-config``: put chosen parameters into a config file's
``[[strategies]]`` entry, keeping everything else in the file as it was (tomlkit keeps
comments, order and layout), and say what changed.

The edited text is validated as a whole desk config and the parameters by the strategy
itself before the file is replaced (atomically, same permissions), so a desk never meets a
half-written or invalid config.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any


class ConfigWriteError(Exception):
    """The config could not be updated; one line for the user (the file is untouched)."""


def _clean(value: Any) -> Any:
    """Floats as a person would write them (1.75, not 1.7500000000000002)."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    return value


def write_params(path: Path, strategy: str, params: dict[str, Any]) -> list[str]:
    """Set ``params`` on ``strategy``'s ``[[strategies]]`` entry in ``path`` (created when
    missing); returns one line per change, e.g. ``swing_left: 10 -> 7``."""
    import tomlkit
    from pydantic import ValidationError
    from tapedesk.engine.config import DeskConfig, format_validation_error
    from tapedesk.engine.strategy import StrategyError, create

    params = {k: _clean(v) for k, v in params.items()}
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        doc = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError) as exc:
        raise ConfigWriteError(f"{path}: cannot edit: {exc}") from None
    changes: list[str] = []
    entries = doc.get("strategies")
    if entries is not None and not isinstance(entries, list):
        raise ConfigWriteError(f"{path}: strategies is not a list of [[strategies]] tables")
    entry = next((e for e in entries or [] if e.get("name") == strategy), None)
    if entry is None:
        if entries is None:
            changes.append(f"added [[strategies]] {strategy} (the file listed no strategies: "
                           "the default ema_cross is no longer implied)")
            doc.append("strategies", tomlkit.aot())
            entries = doc["strategies"]
        else:
            changes.append(f"added [[strategies]] {strategy}")
        table = tomlkit.table()
        table["name"] = strategy
        table["params"] = tomlkit.inline_table()
        entries.append(table)
        entry = entries[-1]
    if "params" not in entry:
        entry["params"] = tomlkit.inline_table()
    current = entry["params"]
    for key, value in params.items():
        old = current.get(key)
        old_v = old.unwrap() if hasattr(old, "unwrap") else old
        if old_v == value and type(old_v) is type(value):
            continue
        current[key] = value
        changes.append(f"{key}: {'(unset)' if old is None else _show(old_v)} -> {_show(value)}")
    new_text = tomlkit.dumps(doc)
    try:
        raw = tomllib.loads(new_text)
        cfg = DeskConfig.model_validate(raw)
        mine = next(s for s in cfg.strategies if s.name == strategy)
        create(strategy, None, **mine.params)
    except StrategyError as exc:
        raise ConfigWriteError(f"{path}: not written: {exc}") from None
    except ValidationError as exc:  # the rest of the file was already invalid, say where
        detail = format_validation_error(exc, str(path)).splitlines()[0]
        raise ConfigWriteError(f"not written: {detail}") from None
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - tomlkit wrote it
        raise ConfigWriteError(f"{path}: not written: {exc}") from None
    if changes:
        _replace(path, new_text)
    return changes


def _show(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else repr(v) if isinstance(v, str) else str(v)


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    tmp = path.with_name(f".{path.name}.tapedesk-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
