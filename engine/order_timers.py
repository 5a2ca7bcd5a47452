"""The order owner's clocks: re-sending failed reduce-only orders with backoff, and the
grace period after which open quantity without a stop is flattened (a mixin of ``Orders``).

Both run on the engine clock (event time in paper and backtest, wall time live, ticked by
the loop and by a half-second timer), never on ``time.time()``.
"""

from __future__ import annotations

from typing import Any

from tapedesk.engine.events import ExplanationKind, OrderRole

NEVER = 1 << 62
RETRY_BASE_MS = 500
RETRY_MAX_MS = 8_000
MAX_ATTEMPTS = 8
PROTECTIVE = (OrderRole.STOP, OrderRole.TAKE_PROFIT)
CLOSING = (OrderRole.EXIT, OrderRole.FLATTEN)
WHAT = {OrderRole.ENTRY: "Entry", OrderRole.STOP: "Stop-loss",
        OrderRole.TAKE_PROFIT: "Take-profit", OrderRole.EXIT: "Exit",
        OrderRole.FLATTEN: "Emergency close"}


class OrderTimers:
    """Retries and the unprotected grace period; state lives on the ``Orders`` instance."""

    # Provided by Orders.
    book: Any
    clock: Any
    open: dict[str, Any]
    grace_ms: int
    halting: bool
    retries: dict[tuple[str, OrderRole], int]
    attempts: dict[tuple[str, OrderRole], int]
    unprotected_since: dict[str, int]
    flattening: set[str]
    on_hold: set[str]
    exit_reason: dict[str, str]
    next_due: int
    explain: Any
    protect: Any
    close: Any
    closing: Any
    covered: Any

    def _retry_later(self, symbol: str, role: OrderRole, why: str) -> None:
        key = (symbol, role)
        n = self.attempts.get(key, 0) + 1
        self.attempts[key] = n
        if n > MAX_ATTEMPTS and role not in CLOSING:
            self.explain(ExplanationKind.ERROR,
                         f"{symbol}: {WHAT.get(role, 'order')} failed {MAX_ATTEMPTS} times "
                         f"({why or 'no reason given'}); not retrying it. Without a stop the "
                         "position is closed when the grace period ends.", symbol=symbol)
            return
        if n == MAX_ATTEMPTS + 1:  # an exit never gives up: an open position must close
            self.explain(ExplanationKind.ERROR,
                         f"{symbol}: {WHAT.get(role, 'order')} failed {MAX_ATTEMPTS} times "
                         f"({why or 'no reason given'}); still retrying every "
                         f"{RETRY_MAX_MS / 1000:g} s. Check the exchange; the emergency stop "
                         "closes everything.", symbol=symbol)
        delay = min(RETRY_BASE_MS * 2 ** (n - 1), RETRY_MAX_MS)
        self.retries[key] = self.clock.now() + delay
        self.explain(ExplanationKind.ERROR,
                     f"{symbol}: re-sending the {WHAT.get(role, 'order').lower()} order in "
                     f"{delay / 1000:g} s (attempt {n + 1}) under a new client id.",
                     symbol=symbol)
        self._schedule()

    def tick(self, now: int) -> None:
        """Due retries and expired grace periods (called from the loop and a timer)."""
        if now < self.next_due or self.halting:
            return
        for key, due in list(self.retries.items()):
            # An earlier re-send may have closed the position (its retries went) or set this
            # one anew: only the retry as it was listed is due.
            if due <= now and self.retries.get(key) == due:
                del self.retries[key]
                self._resend(*key)
        for sym, since in list(self.unprotected_since.items()):
            pos = self.book.get(sym)
            if (pos is None or sym in self.flattening or sym in self.on_hold
                    or now - since < self.grace_ms):
                continue
            self.flattening.add(sym)
            self.explain(ExplanationKind.ERROR,
                         f"UNPROTECTED {sym}: {pos.qty - self.covered(sym)} of {pos.qty} had no "
                         f"stop on the exchange for {self.grace_ms / 1000:g} s; closing it "
                         "reduce-only at market.", symbol=sym)
            self.close(pos, OrderRole.FLATTEN, "no stop on the exchange")
        self._schedule()

    def _resend(self, symbol: str, role: OrderRole) -> None:
        pos = self.book.get(symbol)
        if pos is None:
            return
        if role in PROTECTIVE:
            self.protect(symbol)
        elif not self.closing(symbol):
            self.close(pos, role, self.exit_reason.get(symbol, "exit retried"))

    def _schedule(self) -> None:
        """Set ``next_due``. Called wherever retries, grace periods, flattenings or holds
        change (and only there), so it always equals what this computes from scratch."""
        due = min(self.retries.values()) if self.retries else NEVER
        for sym, since in self.unprotected_since.items():
            # min() without the builtin call: a stop's fill starts and ends a grace each time
            if sym not in self.flattening and sym not in self.on_hold \
                    and since + self.grace_ms < due:
                due = since + self.grace_ms
        self.next_due = due

    def hold(self, symbols: set[str]) -> None:
        """Set the symbols awaiting reconciliation answers; a released one gets a fresh grace."""
        now = self.clock.now()
        for sym in self.on_hold - symbols:
            if sym in self.unprotected_since:
                self.unprotected_since[sym] = now
        self.on_hold = set(symbols)
        self._schedule()
