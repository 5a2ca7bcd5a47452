"""Desk themes as data: one TOML file per theme, turned into ``textual.theme.Theme``.

Themes are files, not code, so a trader can copy ``dark.toml``, change a colour and drop it
in ``<data dir>/themes/`` without touching Python. A file that does not parse or names an
unknown field is reported (file and field) and skipped; the desk falls back to the default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

BUNDLED_DIR = Path(__file__).resolve().parent
DEFAULT_THEME = "tapedesk-dark"

#: Desk-specific CSS variables every theme may set; these defaults apply when it does not
#: (also for Textual's built-in themes chosen from the command palette).
DESK_VARIABLES: dict[str, str] = {
    "pnl-up": "#3fb950",
    "pnl-down": "#f85149",
    "mode-paper": "#1f6feb",
    "mode-live": "#d1242f",
    "mode-test": "#8250df",  # TESTNET / DEMO-TRADING: orders, but no real money
    "state-running": "#2ea043",
    "state-paused": "#d29922",
    "state-locked": "#bf8700",
    "state-halted": "#d1242f",
    "stale-warn": "#d29922",
    "stale-bad": "#f85149",
}

_COLOR_FIELDS = (
    "primary", "secondary", "warning", "error", "success", "accent",
    "foreground", "background", "surface", "panel", "boost",
)
_OTHER_FIELDS = {"name": str, "dark": bool, "luminosity_spread": float, "text_alpha": float}


class ThemeFileError(ValueError):
    """A theme file is unusable; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class LoadedThemes:
    themes: list[Theme]
    errors: list[str]


def parse_theme(path: Path) -> Theme:
    """Read one theme file; raises ThemeFileError naming the file and the bad field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"{path.name}: cannot read ({exc.__class__.__name__})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path.name}: not valid TOML ({exc})") from exc
    variables = data.pop("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError(f"{path.name}: 'variables' must be a table")
    unknown = set(data) - set(_COLOR_FIELDS) - set(_OTHER_FIELDS)
    if unknown:
        raise ThemeFileError(f"{path.name}: unknown field(s) {', '.join(sorted(unknown))}")
    for field in ("name", "primary"):
        if field not in data:
            raise ThemeFileError(f"{path.name}: missing required field '{field}'")
    for field, typ in _OTHER_FIELDS.items():
        if field in data:
            value = data[field]
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                value = data[field] = float(value)
            if not isinstance(value, typ):
                raise ThemeFileError(f"{path.name}: '{field}' must be a {typ.__name__}")
    for field in _COLOR_FIELDS:
        if field in data:
            _check_color(path, field, data[field])
    for key, value in variables.items():
        _check_color(path, f"variables.{key}", value)
    return Theme(**data, variables={str(k): str(v) for k, v in variables.items()})


def _check_color(path: Path, field: str, value: object) -> None:
    if not isinstance(value, str):
        raise ThemeFileError(f"{path.name}: '{field}' must be a colour string")
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise ThemeFileError(f"{path.name}: '{field}' = {value!r} is not a colour") from exc


def load_themes(*dirs: Path | None) -> LoadedThemes:
    """Load every ``*.toml`` in ``dirs`` (bundled first); later files override same names."""
    by_name: dict[str, Theme] = {}
    errors: list[str] = []
    for folder in (BUNDLED_DIR, *dirs):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = parse_theme(path)
            except ThemeFileError as exc:
                errors.append(str(exc))
                continue
            by_name[theme.name] = theme
    # The default first, so "next theme" starts from it.
    ordered = sorted(by_name.values(), key=lambda t: (t.name != DEFAULT_THEME, t.name))
    return LoadedThemes(ordered, errors)
