"""The desk's keys on one position: ``x`` closes it (after a dialog whose default is Cancel),
``b`` moves its stop to break-even. The engine does the work (engine.position_actions);
this module only picks the position, asks, and shows the engine's answer.

The keys act on the position the active-trade pane lists first (the dialog names it); the
command palette has one entry per open position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tapedesk.engine.events import ExplanationKind, Position
from tapedesk.engine.position_actions import REENTRY_PAUSE_MS
from tapedesk.engine.positions import unrealized
from tapedesk.engine.snapshot import DeskSnapshot
from tapedesk.tui.screens import ConfirmScreen
from textual.app import SystemCommand


def close_text(symbol: str) -> Callable[[DeskSnapshot], tuple[str, str]]:
    """Title and body of the close dialog for ``symbol``, recomputed every frame."""

    def text(snap: DeskSnapshot) -> tuple[str, str]:
        pos = snap.positions.get(symbol)
        if pos is None:
            return (f"{symbol} is flat now",
                    "The position closed since this dialog opened: nothing to close. "
                    "Press n or esc.")
        last = snap.last_prices.get(symbol)
        pnl = unrealized(pos, last)
        upnl = ("" if pnl is None else
                f" at about {last:,.2f} (unrealised {pnl:+,.2f} USDT before the exit fee)")
        return (f"Close {pos.side.value.upper()} {pos.qty} {symbol} now?",
                f"Sends a reduce-only market {pos.side.opposite.order_side} {pos.qty}{upnl}. "
                "The trade ends as 'manual'. The desk keeps running: it is not halted and "
                "other positions are untouched"
                + (f"; {pos.strategy} may not re-enter {symbol} {pos.side.value} for "
                   f"{REENTRY_PAUSE_MS // 60_000} min" if pos.strategy else "")
                + ".\ny closes; Enter, n and esc cancel.")

    return text


class ClosePositionScreen(ConfirmScreen):
    """The ``x`` dialog: Cancel has the focus, so Enter (or a reflex key) never closes."""

    def __init__(self, snap: DeskSnapshot, symbol: str) -> None:
        live = close_text(symbol)
        super().__init__(*live(snap), yes="Close it (y)", no="Cancel (n)", live=live)
        self.symbol = symbol


def _shown(app: Any, symbol: str | None) -> tuple[DeskSnapshot | None, Position | None]:
    """The position a key acts on: ``symbol``'s, else the one the pane lists first."""
    snap = app.last_snapshot
    if snap is None:
        return None, None
    if symbol is not None:
        return snap, snap.positions.get(symbol)
    return snap, snap.position


def _unavailable(app: Any, what: str, symbol: str | None) -> bool:
    if not app.engine_running:
        app.notify(f"Cannot {what}: the engine is not running here.", severity="error",
                   timeout=5)
        return True
    if _shown(app, symbol)[1] is None:
        where = f" on {symbol}" if symbol else ""
        app.notify(f"No open position{where}: nothing to {what}.", timeout=4)
        app._local_log(ExplanationKind.DESK, f"No open position{where}: nothing to {what}.")
        return True
    return False


def ask_close(app: Any, symbol: str | None = None) -> None:
    """``x``: confirm, then close the position reduce-only at market."""
    if _unavailable(app, "close", symbol):
        return
    snap, pos = _shown(app, symbol)
    assert snap is not None and pos is not None
    sym = pos.symbol

    def answered(yes: bool | None) -> None:
        now = app.last_snapshot
        if yes and now is not None and sym in now.positions:
            app._engine_call(_act(app, app.engine.close_manually(sym)), f"close {sym}")

    app.push_screen(ClosePositionScreen(snap, sym), answered)


def stop_to_breakeven(app: Any, symbol: str | None = None) -> None:
    """``b``: move the stop to break-even; the engine refuses (and says why) if it must."""
    if _unavailable(app, "move a stop", symbol):
        return
    sym = _shown(app, symbol)[1].symbol  # type: ignore[union-attr]
    app._engine_call(_act(app, app.engine.stop_to_breakeven(sym)), f"stop to break-even {sym}")


async def _act(app: Any, call: Any) -> None:
    result = await call
    app.notify(result.text, severity="information" if result.done else "warning",
               markup=False, timeout=6)


def palette_commands(app: Any, key: Callable[[str], str | None]) -> Iterable[SystemCommand]:
    """One close and one break-even entry per open position (the keys act on the first)."""
    snap = app.last_snapshot
    if snap is None or not app.engine_running:
        return
    for sym, pos in snap.positions.items():
        label = f"{pos.side.value} {sym}"
        k_close, k_be = key("close_position"), key("stop_to_breakeven")
        first = sym == next(iter(snap.positions))
        yield SystemCommand(f"Close {label}" + (f" ({k_close})" if first and k_close else ""),
                            "Reduce-only at market, asks first; the desk keeps running",
                            lambda s=sym: ask_close(app, s))
        yield SystemCommand(f"Stop to break-even {label}" + (f" ({k_be})" if first and k_be
                                                             else ""),
                            "Entry plus fees; refused if the price is not past it",
                            lambda s=sym: stop_to_breakeven(app, s))
