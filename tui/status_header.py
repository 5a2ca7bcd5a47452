"""The status header: money at stake, data source, symbols with their last price, equity,
day P&L, what is left today, and the desk state.

It is a Static repainted from one DeskSnapshot per frame; colours come from the theme's
variables so every theme (and high-contrast) shows PAPER/LIVE and HALTED unmistakably.
Faults outrank everything else on it: UNPROTECTED (open quantity with no exchange-side
stop), JOURNAL ERROR (nothing can be recorded) and a feed that is OFFLINE or STALE.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from tapedesk.engine.snapshot import DeskSnapshot, DeskState, FeedStatus
from tapedesk.tui.format import age, duration, money, price
from textual.widgets import Static

STALE_WARN_MS = 2_000
STALE_BAD_MS = 10_000
#: A feed still "connecting" after this long, having never delivered anything, is offline.
OFFLINE_AFTER_MS = 10_000
_WAITING = (FeedStatus.CONNECTING, FeedStatus.RECONNECTING, FeedStatus.DISCONNECTED,
            FeedStatus.STALE)

_STATE_VAR = {
    DeskState.RUNNING: "state-running",
    DeskState.PAUSED: "state-paused",
    DeskState.DAY_LOCKED: "state-locked",
    DeskState.HALTED: "state-halted",
}


_STAKE_VAR = {
    "PAPER": ("mode-paper", "blue"),
    "TESTNET": ("mode-test", "magenta"),
    "DEMO-TRADING": ("mode-test", "magenta"),
}


def source_label(snap: DeskSnapshot) -> str:
    """Where the prices come from, in words that never say "demo" alone: the offline demo
    is a replay, Binance's demo-trading environment is a money label (DEMO-TRADING)."""
    if snap.mode == "demo":
        return "replay (offline demo)"
    if snap.source == "live feed" and snap.environment not in ("", "production"):
        return f"live feed ({snap.environment})"
    return snap.source or "replay"


class StatusHeader(Static):
    """Two or three lines; wraps at 80 columns rather than hiding a field."""

    DEFAULT_CSS = """
    StatusHeader { height: auto; padding: 0 1; background: $panel; }
    """

    _last: Text | None = None

    def __init__(self, *args, clock: Callable[[], float] = time.monotonic, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock  # wall seconds; injectable so tests can age an offline feed
        self._waiting_since: float | None = None

    def show(self, snap: DeskSnapshot | None, *, notice: str | None = None,
             halting: bool = False, log_filter: str = "all") -> None:
        text = self.render_text(snap, notice=notice, halting=halting, log_filter=log_filter)
        if text != self._last:  # an unchanged header costs no layout or repaint
            self._last = text
            self.update(text)

    def _var(self, name: str, fallback: str) -> str:
        return self.app.theme_variables.get(name, fallback)

    def render_text(self, snap: DeskSnapshot | None, *, notice: str | None,
                    halting: bool, log_filter: str) -> Text:
        t = Text(no_wrap=False, overflow="fold")
        if snap is None:
            t.append(" TAPEDESK ", style="bold reverse")
            t.append("  starting engine…")
            if notice:
                t.append(f"\n{notice}", style=f"bold {self._var('stale-warn', 'yellow')}")
            return t
        stake = snap.stake  # what money is at stake; the data source is a separate label
        var, fallback = _STAKE_VAR.get(stake, ("mode-live", "red"))
        t.append(f" {stake} ", style=f"bold #ffffff on {self._var(var, fallback)}")
        t.append(f" {source_label(snap)} ", style="italic")
        t.append("│")
        for sym in snap.symbols:  # each traded symbol with its last price
            t.append(f" {sym} ", style="bold")
            t.append(price(snap.last_prices.get(sym)))
        t.append(" │ ")
        feed_text, feed_color = self._feed(snap)
        t.append(feed_text, style=feed_color)
        state = DeskState.HALTED if halting else snap.state
        bg = self._var(_STATE_VAR[state], "red")
        t.append(" │ ")
        t.append(f" {state} ", style=f"bold #ffffff on {bg}")
        danger = self._var("mode-live", "red")
        if snap.unprotected:
            t.append(" ")
            t.append(f" UNPROTECTED {' '.join(snap.unprotected)} ",
                     style=f"bold #ffffff on {danger}")
        if snap.journal_error:
            t.append(" ")
            t.append(" JOURNAL ERROR ", style=f"bold #ffffff on {danger}")
        # Narrow terminals: money on its own line rather than wrapped mid-field.
        t.append("\n" if self.size.width and self.size.width < 118 else " │ ")
        t.append("eq ")
        t.append(money(snap.equity), style="bold")
        t.append(" │ day ")
        pnl = snap.day.realized_pnl + snap.unrealized_pnl
        up = self._var("pnl-up", "green")
        down = self._var("pnl-down", "red")
        t.append(money(pnl, signed=True), style=f"bold {up if pnl >= 0 else down}")
        t.append(f" │ trades left {snap.day.trades_left} · losses left {snap.day.losses_left}")
        if snap.unprotected:
            t.append(f"\nUNPROTECTED: {', '.join(snap.unprotected)} open with no exchange-side "
                     "stop; the desk flattens it unless a stop is placed.",
                     style=f"bold {danger}")
        if snap.journal_error:
            t.append(f"\nJOURNAL ERROR: {snap.journal_error} — no new entries; stops and "
                     "ctrl+x still work.", style=f"bold {danger}")
        detail = self._detail(snap, state)
        if detail:
            t.append(f"\n{detail}", style=f"bold {bg}")
        if notice:
            t.append(f"\n{notice}", style=f"bold {self._var('stale-warn', 'yellow')}")
        if log_filter != "all":
            t.append(f"   log filter: {log_filter}", style="italic")
        return t

    def _feed(self, snap: DeskSnapshot) -> tuple[str, str]:
        """The feed field and its colour. A feed that never delivered is timed here (the
        engine has no age for it), so "connecting" turns into OFFLINE rather than lasting
        forever; one that delivered and went quiet shows STALE with the data's age."""
        bad = self._var("stale-bad", "red")
        warn = self._var("stale-warn", "yellow")
        status, data_age = snap.feed_status, snap.data_age_ms
        if status not in _WAITING:
            self._waiting_since = None
            return f"● {status} {age(data_age)}", self._age_color(status, data_age)
        now = self.clock()
        if self._waiting_since is None:
            self._waiting_since = now
        if data_age is None:  # nothing received since the desk started
            waited = int((now - self._waiting_since) * 1000)
            if waited >= OFFLINE_AFTER_MS:
                return f"● OFFLINE: no market data for {age(waited)}", f"bold {bad}"
            return f"● {status} {age(waited)}", warn
        if status is FeedStatus.STALE or data_age >= STALE_BAD_MS:
            how = "" if status is FeedStatus.STALE else f" ({status})"
            return f"● STALE: last data {age(data_age)} ago{how}", f"bold {bad}"
        return f"● {status} {age(data_age)}", warn

    def _age_color(self, status: FeedStatus, a: int | None) -> str:
        bad = self._var("stale-bad", "red")
        warn = self._var("stale-warn", "yellow")
        if status is FeedStatus.ENDED:
            return warn
        if a is None or a >= STALE_BAD_MS:
            return f"bold {bad}"
        if a >= STALE_WARN_MS:
            return warn
        return self._var("pnl-up", "green")

    @staticmethod
    def _detail(snap: DeskSnapshot, state: DeskState) -> str:
        if state is DeskState.HALTED:
            return "HALTED: no new entries. Press r to resume (asks to confirm)."
        if state is DeskState.DAY_LOCKED:
            why = snap.day.lock_reason or "daily limit reached"
            left = duration(snap.next_reset_ts - snap.now_ts)
            return f"DAY LOCKED: {why}; resets in {left} (00:00 UTC)"
        if state is DeskState.PAUSED:
            return "PAUSED: no new entries; an open trade is still managed. Press p to resume."
        return ""
