"""The engine's explanation log: every line a trader reads about what the desk did and why.

Part of ``Engine`` (engine/engine.py), split out by concern. A live desk words each line at
once and queues it for the journal and the subscribers; a backtest (``lazy_explanations``)
keeps the wording function and its arguments (a plain tuple) and words only the lines still
in ``recent`` at the end (nobody reads the others), which is most of what explaining used to cost it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from tapedesk.engine.events import Explanation, ExplanationKind
from tapedesk.engine.journal import explanation_record


class ExplainLog:
    """``explain`` and its lazy twin ``_explain_by`` (and a strategy's skip notes through them);
    mixed into ``Engine``."""

    # Provided by Engine.
    clock: Any
    _event_clock: Any  # the clock when it is an EventClock (now_ms read inline), else None
    journal: Any
    orders: Any
    publish: bool
    recent: deque[Explanation]
    on_explanation: Callable[[Explanation], None] | None
    _pending: list[Any]
    _outbox: list[Any]
    #: A backtest sets this: explanation texts are kept as (function, args) and only
    #: the ``recent`` ones left at the end are worded (``word_explanations``).
    lazy_explanations = False

    def explain(self, kind: ExplanationKind, text: str, *, strategy: str = "", symbol: str = "",
                rule: str = "", position_id: str | None = None) -> None:
        """``position_id`` None: the line is about ``symbol``'s open (or opening) position."""
        if position_id is None:
            position_id = self.orders.position_id(symbol) if symbol else ""
        # Before the first market event the clock reads 0: a watched desk dates such lines
        # (its start, its companions) by the wall clock rather than 1970; a backtest keeps 0.
        ts = self.clock.now() or (int(time.time() * 1000) if self.publish else 0)
        e = Explanation(ts, kind, text, strategy, symbol, rule, position_id)
        self.recent.append(e)
        if self.journal is not None:
            self._pending.append(explanation_record(e))
        if self.publish:
            self._outbox.append(e)
        if self.on_explanation is not None:
            self.on_explanation(e)

    def _explain_by(self, kind: ExplanationKind, word: Callable[..., str], args: tuple,
                    strategy: str, symbol: str, rule: str, position_id: str) -> None:
        """``explain(kind, word(*args), ...)``; a backtest (nobody reads the line until the
        end, and only the last ``recent`` ones) words it later: ``args`` are never changed
        after they are made (fills, decisions, round trips, an equity figure). Positional
        where-arguments: this runs for every signal and fill of a backtest."""
        if not self.lazy_explanations:
            self.explain(kind, word(*args), strategy=strategy, symbol=symbol, rule=rule,
                         position_id=position_id)
            return
        # A plain tuple: most lines fall out of ``recent`` unread, so the Explanation is
        # built only for those still there at the end (word_explanations). An event clock's
        # time read inline (a call per line, else).
        clock = self._event_clock
        self.recent.append((clock.now_ms if clock is not None else self.clock.now(), kind,
                            word, args, strategy, symbol, rule,  # type: ignore[arg-type]
                            position_id))

    def word_explanations(self) -> None:
        """The lazily kept lines of a backtest, worded now (the same text as ``explain``)."""
        recent = self.recent
        lines = [e if type(e) is not tuple
                 else Explanation(e[0], e[1], e[2](*e[3]), e[4], e[5], e[6], e[7])
                 for e in recent]
        recent.clear()
        recent.extend(lines)

    def _drain_notes(self, strat: Any) -> None:
        take = getattr(strat, "drain_note_words", None)
        if take is None:  # a strategy's own notes, worded already
            for _ts, symbol, text in strat.drain_notes():  # type: ignore[attr-defined]
                self.explain(ExplanationKind.REFUSED, text, strategy=strat.name, symbol=symbol,
                             rule="strategy", position_id="")
            return
        # Worded when read (engine/strategies/notes.py): a backtest reads the last few.
        name = strat.name
        for _ts, symbol, word, args in take():
            self._explain_by(ExplanationKind.REFUSED, word, args, name, symbol, "strategy", "")
