"""The strategy line-up: who is enabled, what each did today, and the handlers per event kind.

The engine's hot path reads ``handlers`` (pre-bound per market event kind) and nothing else;
enabling, disabling or a strategy raising rebuilds them here.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

from tapedesk.engine.events import Kind, Side, Signal, SignalKind
from tapedesk.engine.explanations import price
from tapedesk.engine.journal import Record, setting_record
from tapedesk.engine.snapshot import StrategyStatus
from tapedesk.engine.strategy import Strategy

HANDLER_FOR_KIND = {
    Kind.BAR: "on_bar",
    Kind.QUOTE: "on_quote",
    Kind.TRADE: "on_trade",
    Kind.MARK: "on_mark",
    Kind.DEPTH: "on_depth",
}
Handler = tuple[Strategy, Any, frozenset[str] | None, Any]
_BUILT_IN = "tapedesk.engine.strategies."  # their handlers make a new Signal every time


class BadSignal(ValueError):
    """A plugin's signal that breaks the plugin rules: the strategy is disabled with the
    problem (no traceback: the problem names what is wrong, not a line of the desk)."""


def _signal_copies(handler: Any) -> Any:
    """A user strategy's ``handler``, its Signal handed on as a copy: a strategy may keep
    its Signal object and re-arm it later, while what was decided on it is read afterwards
    (a backtest words its lines at the end; an accepted entry's numbers are worked out when
    read). Its side and kind as the members the desk tells apart by identity ("long" ->
    Side.LONG; anything else raises, and the strategy is disabled with why), and checked by
    the plugin rules (``strategy_plugins.signal_problem``: finite prices, stop and target on
    the right sides) so a malformed one disables the strategy with why instead of reaching
    the risk engine. Built-ins skip this: it would run for every signal of a backtest."""
    from tapedesk.engine.strategy_plugins import signal_problem  # plugins only: not at start

    def copying(event: Any) -> Any:
        sig = handler(event)
        if sig is None:
            return None
        if not isinstance(sig, Signal):
            raise BadSignal(signal_problem(sig))
        side, kind, reasons = sig.side, sig.kind, sig.reasons
        # Positional, in Signal's field order (``replace`` took ~1 us more per signal).
        sig = Signal(sig.strategy, sig.symbol, side if type(side) is Side else Side(side),
                     sig.ts, sig.entry, sig.stop_loss, sig.take_profit, sig.confidence,
                     list(reasons) if type(reasons) is list else reasons,
                     kind if type(kind) is SignalKind else SignalKind(kind))
        problem = signal_problem(sig)
        if problem:
            raise BadSignal(problem)
        return sig
    return copying


class StratState:
    __slots__ = ("enabled", "error", "last", "pnl_today", "signals_today", "trades_today")

    def __init__(self) -> None:
        self.enabled = True
        #: The last signal's kind, side and entry, worded only when shown. Its values, not
        #: the Signal: a strategy may keep its Signal object and change it afterwards.
        self.last: tuple[SignalKind, Side, float] | None = None
        self.signals_today = 0
        self.trades_today = 0
        self.pnl_today = Decimal(0)
        self.error = ""

    @property
    def last_signal(self) -> str:
        """``entry long @ 16,543.2``: worded when the strategy screen asks, not per signal."""
        last = self.last
        return "" if last is None else f"{last[0]} {last[1]} @ {price(last[2])}"


def raised_at(exc: BaseException) -> str:
    """`` (file.py:42, in on_bar)``: where ``exc`` was raised, its innermost frame; "" when
    it carries no traceback."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f" ({os.path.basename(code.co_filename)}:{tb.tb_lineno}, in {code.co_name})"


class Roster:
    """Strategies in their configured order, with per-strategy state for today."""

    def __init__(self, strategies: list[Strategy], disabled: set[str] | frozenset[str]) -> None:
        self.strategies = list(strategies)
        self.states = {s.name: StratState() for s in self.strategies}
        for name in disabled:
            if name in self.states:
                self.states[name].enabled = False
        self.handlers: dict[int, list[Handler]] = {}

    def add(self, name: str) -> Strategy:
        """Load a registered strategy the config did not list, with its default parameters
        (the desk's strategy screen offers every one); StrategyError names the known ones."""
        from tapedesk.engine.strategy import create

        strat = create(name)
        self.strategies.append(strat)
        self.states[name] = StratState()
        return strat

    def state(self, name: str) -> StratState:
        st = self.states.get(name)
        if st is None:
            st = self.states[name] = StratState()
        return st

    def rebuild(self, ctx: Any) -> dict[int, list[Handler]]:
        """Handlers per event kind for the enabled strategies (started on first use)."""
        handlers: dict[int, list[Handler]] = {}
        for s in self.strategies:
            if not self.states[s.name].enabled:
                continue
            if s.ctx is None:
                s.on_start(ctx)
            syms = frozenset(s.symbols) if s.symbols else None
            # Strategies with skip notes (engine.strategies.notes) get them drained into the
            # explanation log: the trades not taken are explained too.
            notes = getattr(s, "notes", None) if hasattr(s, "drain_notes") else None
            own = type(s).__module__.startswith(_BUILT_IN)
            for kind, meth in HANDLER_FOR_KIND.items():
                if s.handles(meth):
                    fn = getattr(s, meth)
                    handlers.setdefault(kind, []).append(
                        (s, fn if own else _signal_copies(fn), syms, notes))
        self.handlers = handlers
        return handlers

    def failed(self, strat: Strategy, exc: Exception) -> str:
        st = self.states[strat.name]
        st.enabled = False
        st.error = f"{type(exc).__name__}: {exc}"
        return st.error

    def new_day(self) -> None:
        for st in self.states.values():
            st.signals_today = st.trades_today = 0
            st.pnl_today = Decimal(0)

    def record(self) -> Record:
        """The line-up with enabled flags, for `tapedesk status` in another shell."""
        lineup = [{"name": s.name, "enabled": self.states[s.name].enabled}
                  for s in self.strategies]
        return setting_record("strategies", json.dumps(lineup))

    def statuses(self) -> tuple[StrategyStatus, ...]:
        out = []
        for i, s in enumerate(self.strategies):
            st = self.states[s.name]
            out.append(StrategyStatus(i + 1, s.name, st.enabled, st.last_signal,
                                      st.signals_today, st.trades_today, st.pnl_today, st.error))
        return tuple(out)
