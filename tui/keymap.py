"""The desk's keys: what each binding id does, the ``[ui.keymap]`` check, and the help rows.

Remaps go through Textual's own ``App.set_keymap`` (binding id → key string), so the footer
shows them for free; the help screen (``?``) is built here from the same live bindings, so a
remapped key shows there too and a binding without a help line is caught by a test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from textual.binding import Binding
from textual.keys import _character_to_key, key_to_character

#: What each desk binding does, by binding id (the ids a ``[ui.keymap]`` may name).
HELP_TEXT: dict[str, str] = {
    "emergency_stop": "EMERGENCY STOP: halt entries, cancel all orders, close all positions "
                      "reduce-only, verify flat (no dialog; works from any screen)",
    "resume_halt": "resume from a halt (asks to confirm)",
    "pause": "pause / resume new entries (an open trade is still managed)",
    "close_position": "close the open position shown first, reduce-only at market (asks; "
                      "Enter cancels); the desk keeps running",
    "stop_to_breakeven": "move that position's stop to break-even (entry plus fees); refused "
                         "if the price is not past it",
    "toggle_strategy": "enable / disable strategy N (the strategy screen lists every one)",
    "strategies": "strategy screen: every registered strategy, its parameters; "
                  "enter enables / disables the highlighted one",
    "chart": "chart: equity and drawdown",
    "log_filter": "explanation log filter: all → taken → refused → errors",
    "log_search": "filter the explanation log by text (enter keeps, esc clears)",
    "log_search_clear": "clear the log's text filter",
    "next_theme": "next theme (remembered until [ui] theme in the config changes)",
    "help": "this help",
    "quit": "quit (asks first when a position is open and says what protects it)",
    "demo": "leave and restart in the offline demo (a replay; when live data is unavailable)",
    "action:command_palette": "command palette: every action by name",
    "action:quit": "quit (Textual's own key, same as q)",
}
#: Bindings kept on a non-printable key: a focused text field swallows printable keys even
#: for priority bindings (docs/TEXTUAL-NOTES), and the emergency stop must always arrive.
NON_PRINTABLE_ONLY = ("emergency_stop",)


def help_key(binding_id: str) -> str:
    """``toggle_strategy_3`` → ``toggle_strategy``: the nine toggles share one help line, and
    the e-stop's stand-in (the same key while no engine runs) shares the e-stop's."""
    if binding_id == "estop_unavailable":
        return "emergency_stop"
    return "toggle_strategy" if binding_id.startswith("toggle_strategy_") else binding_id


def is_printable(key: str) -> bool:
    """True for keys a focused Input would take as text (``a``, ``?``, ``space``)."""
    key = _character_to_key(key) if len(key) == 1 else key
    char = key_to_character(key)
    return char is not None and char.isprintable()


def key_display(binding: Binding) -> str:
    """``ctrl+x``, ``f12``, ``?``: spelled out (the footer's ``^x`` is too terse for help)."""
    if binding.key_display:
        return binding.key_display
    char = key_to_character(binding.key)
    return char if char is not None and char.isprintable() else binding.key


def keymap_problems(keymap: Mapping[str, Any], bindings: Iterable[Binding]) -> list[str]:
    """One line per bad ``[ui.keymap]`` entry, each naming its field."""
    known = sorted({b.id for b in bindings if b.id})
    problems = []
    for binding_id, keys in keymap.items():
        field = f"ui.keymap.{binding_id}"
        if binding_id not in known:
            problems.append(f"{field}: unknown binding id; known ids: {', '.join(known)}")
            continue
        names = [k.strip() for k in str(keys).split(",")]
        if not all(names):
            problems.append(f"{field}: empty key in {keys!r}")
        elif binding_id in NON_PRINTABLE_ONLY and any(is_printable(k) for k in names):
            problems.append(
                f"{field}: {keys!r} is a printable key, which a focused text field would "
                "swallow; use a ctrl+ or function key (e.g. f12)"
            )
    return problems


def _live_bindings(app: Any) -> Any:
    """The App's bindings with the keymap applied, as the footer sees them."""
    live = app._bindings.copy()
    live.apply_keymap(app._keymap)
    return live


def keys_by_id(app: Any) -> dict[str, str]:
    """Binding id → the key(s) bound to it now, for labels (command palette)."""
    out: dict[str, str] = {}
    for bindings in _live_bindings(app).key_to_bindings.values():
        for b in bindings:
            if b.id:
                out[b.id] = f"{out[b.id]},{key_display(b)}" if b.id in out else key_display(b)
    return out


def help_rows(app: Any) -> list[tuple[str, str]]:
    """(keys, what it does) for every non-system App binding, with the keymap applied."""
    live = _live_bindings(app)
    keys_for: dict[str, list[str]] = {}
    order: list[str] = []
    for bindings in live.key_to_bindings.values():
        for b in bindings:
            if b.system:
                continue
            name = help_key(b.id) if b.id else f"action:{b.action}"
            if name not in keys_for:
                order.append(name)
            shown = keys_for.setdefault(name, [])
            if key_display(b) not in shown:
                shown.append(key_display(b))
    # Keep the documented order (HELP_TEXT), then anything else the App binds (ctrl+q…).
    ranked = [n for n in HELP_TEXT if n in keys_for] + [n for n in order if n not in HELP_TEXT]
    rows = []
    for name in ranked:
        text = HELP_TEXT.get(name) or f"{name.removeprefix('action:')} (Textual's own)"
        rows.append((" ".join(keys_for[name]), text))
    return rows
