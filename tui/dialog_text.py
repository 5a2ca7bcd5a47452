"""What the resume and quit dialogs say, computed from the snapshot of the moment.

The dialogs call these again on every frame while open, so the text follows the desk (a
position that closes under the quit dialog is no longer described as open).
"""

from __future__ import annotations

from tapedesk.engine.snapshot import DeskSnapshot


def resume_text(snap: DeskSnapshot) -> tuple[str, str]:
    """Title and body of the resume-from-halt dialog for the desk as it is now."""
    if not snap.halted:
        return ("The desk is no longer halted",
                "It was resumed elsewhere (tapedesk resume or another key). Nothing to do: "
                "press n or esc.")
    return ("Resume from HALT?",
            "Strategies may open new positions again as soon as their signals pass risk.")


def quit_text(snap: DeskSnapshot) -> tuple[str, str]:
    """Title and body of the quit dialog for the desk as it is now."""
    if not snap.positions:
        return ("Quit? The desk is flat now",
                "The position has closed since this dialog opened: nothing is open. "
                "Quitting stops the desk.")
    return "Quit with a position open?", protection_text(snap)


def protection_text(snap: DeskSnapshot) -> str:
    """What keeps an open position safe once the desk is closed (differs by mode)."""
    pos = ", ".join(f"{p.side.value} {p.symbol}" for p in snap.positions.values())
    if snap.mode == "live":
        return (f"Open: {pos}. It stays open on Binance. Its exchange-side reduce-only "
                "stop-loss and take-profit orders stay in place and protect it while the desk "
                "is closed; nothing else will manage it. On restart the desk reconciles with "
                "the exchange. Use ctrl+x first if you want to be flat.")
    return (f"Open: {pos}. This is a PAPER position: it is saved in the journal, but nothing "
            "simulates its stop or target while the desk is closed. On restart it is "
            "restored and managed again against the prices of that moment. Use ctrl+x first "
            "if you want to be flat.")
