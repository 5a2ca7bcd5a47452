"""The engine's decision side: a strategy's signal through the risk vet to an order.

Part of ``Engine`` (engine/engine.py), split out by concern. Every signal is vetted by the
one risk engine, recorded, explained (refused or taken) and, when accepted, carried out by
the order owner. It runs for every signal of a backtest, so it reads what it needs once.
"""

from __future__ import annotations

from typing import Any

from tapedesk.engine import explanations as say
from tapedesk.engine.events import (
    Decision,
    ExplanationKind,
    OrderRole,
    Position,
    Signal,
    SignalKind,
)
from tapedesk.engine.position_actions import reentry_block
from tapedesk.engine.records import decision_record
from tapedesk.engine.risk import Refusal, refusal_line, taken_line
from tapedesk.engine.strategy import Strategy

# Enum members read through their class cost ~130 ns each (Python 3.11): kept here.
_ENTRY, _EXIT = SignalKind.ENTRY, SignalKind.EXIT
_REVERSE = SignalKind.REVERSE
_ENTRY_ROLE = OrderRole.ENTRY
_REFUSED = ExplanationKind.REFUSED
_TAKEN = ExplanationKind.TAKEN


class DecisionSide:
    """``_on_signal`` → ``_decide`` → orders; mixed into ``Engine``."""

    # Provided by Engine.
    config: Any
    venue: Any
    risk: Any
    orders: Any
    days: Any
    journal: Any
    _positions: dict[str, Position]
    _strat: dict[str, Any]
    _pending: list[Any]
    spec: Any
    equity: Any
    wallet: Any
    explain: Any
    _explain_by: Any

    def _on_signal(self, strat: Strategy, sig: Signal) -> None:
        st = self._strat[strat.name]
        st.signals_today += 1
        st.last = (sig.kind, sig.side, sig.entry)  # worded if shown (StratState.last_signal)
        if sig.kind is _REVERSE:
            pos = self._positions.get(sig.symbol)
            if pos is not None and pos.side is not sig.side:  # the exit half, vetted as one
                # Positional, field by field: what ``replace(sig, ...)`` makes, ~5x cheaper.
                self._decide(Signal(sig.strategy, sig.symbol, pos.side, sig.ts, sig.entry,
                                    sig.stop_loss, sig.take_profit, sig.confidence,
                                    sig.reasons, _EXIT),
                             "reversed: " + "; ".join(sig.reasons))
                if sig.symbol in self._positions:
                    return  # the close is still working: never two positions at once
            sig = Signal(sig.strategy, sig.symbol, sig.side, sig.ts, sig.entry, sig.stop_loss,
                         sig.take_profit, sig.confidence, sig.reasons, _ENTRY)
        self._decide(sig)

    def _decide(self, sig: Signal, exit_reason: str = "strategy exit") -> None:
        """Risk vets ``sig``; the decision is recorded and explained, then carried out."""
        symbol = sig.symbol
        pos = self._positions.get(symbol)
        if sig.kind is _EXIT:  # its verdict needs no equity, margin or spec: not read
            self._exit(sig, pos, exit_reason)
            return
        venue = self.venue
        orders = self.orders
        avail = venue.available() if hasattr(venue, "available") else self.wallet()
        equity = self.equity()  # nothing below changes it before the decision is explained
        # An entry whose outcome is unknown counts as working: possibly live, never doubled.
        dec = self.risk.entry_verdict(sig, self.days.counters, equity, avail,
                                      self.spec(symbol), pos is not None,
                                      orders.working_entry(symbol), reentry_block(self, sig))
        if type(dec) is not Decision:  # a Refusal or Acceptance: its words made when read
            if self.journal is not None:
                dec = dec.decision()  # for the journal's record
            elif type(dec) is Refusal:  # nobody reads it now (the backtest's lazy log words
                self._explain_by(_REFUSED, refusal_line, dec.line(), sig.strategy, symbol,
                                 dec.rule, "")  # the last ones at the end, from their fields)
                return
        # An accepted entry's position is its own order id, taken now so the decision is
        # journaled under the id its fill will carry; a refusal belongs to no trade.
        pos_id = orders.new_id(_ENTRY_ROLE) if dec.accepted else ""
        if self.journal is not None:
            self._record_decision(dec, pos_id)
        if not dec.accepted:
            self._explain_by(_REFUSED, say.refused, (dec,), sig.strategy, symbol, dec.rule, "")
            return
        self._explain_by(_TAKEN, taken_line, (dec, equity, self.config.risk.risk_per_trade_pct),
                         sig.strategy, symbol, dec.rule, pos_id)
        if hasattr(venue, "set_leverage"):
            venue.set_leverage(symbol, dec.leverage)
        orders.enter(sig, dec, pos_id)

    def _exit(self, sig: Signal, pos: Position | None, exit_reason: str) -> None:
        """``_decide`` of an EXIT signal: vetted (a strategy closes only its own position),
        recorded, explained, then the open position closed (unless a close already works)."""
        symbol = sig.symbol
        dec = self.risk.exit_verdict(sig, pos.strategy if pos is not None else "")
        # An accepted exit belongs to the open position; a refusal to no trade.
        pos_id = pos.position_id if dec.accepted and pos is not None else ""
        if self.journal is not None:
            self._record_decision(dec, pos_id)
        if not dec.accepted:
            self._explain_by(_REFUSED, say.refused, (dec,), sig.strategy, symbol, dec.rule, "")
            return
        self._explain_by(_TAKEN, say.taken_exit, (sig,), sig.strategy, symbol, dec.rule, pos_id)
        working = self.orders.closing(symbol)
        if pos is not None and working:  # the trader's close, a retry: it keeps its label
            self.explain(ExplanationKind.DESK, f"{symbol}: a close is already working "
                         f"({working}); no second close sent for {sig.strategy}'s exit.",
                         strategy=sig.strategy, symbol=symbol, rule="exit")
        elif pos is not None:
            self.close_position(pos, OrderRole.EXIT, exit_reason)

    def _record_decision(self, dec: Decision, position_id: str = "") -> None:
        """Queue the decision's journal row; callers ask only when a journal is open."""
        self._pending.append(decision_record(dec, position_id))

    def close_position(self, pos: Position, role: OrderRole, reason: str) -> None:
        """Send the reduce-only market order that closes ``pos``; ``reason`` labels the trade."""
        self.orders.close(pos, role, reason)

