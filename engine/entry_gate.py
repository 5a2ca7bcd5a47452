"""The engine's entry gate: the risk day, its roll and lock, and whether entries may go out.

Part of ``Engine`` (engine/engine.py), split out by concern. The gate is one cached string
the hot path tests per event ("" lets strategies run); it is worked out again only when
something it depends on changes: the day rolls or locks, the desk halts, pauses or goes
stale, or a reconciliation difference at a live start is answered.
"""

from __future__ import annotations

from typing import Any

from tapedesk.engine.events import ExplanationKind
from tapedesk.engine.reconcile import reconcile_at_start
from tapedesk.engine.risk import DayCounters, gate_reason
from tapedesk.engine.snapshot import StateChanged
from tapedesk.engine.staleness import watch


class EntryGate:
    """Day roll, gate and reconciliation answers; mixed into ``Engine``."""

    # Provided by Engine.
    config: Any
    venue: Any
    book: Any
    orders: Any
    days: Any
    roster: Any
    journal: Any
    reconciliation: Any
    halted: bool
    paused: bool
    _gate: str
    _stale_s: float | None
    _pending: list[Any]
    _outbox: list[Any]
    explain: Any
    snapshot: Any
    commit: Any
    _sample_equity: Any

    @property
    def day(self) -> DayCounters:
        return self.days.counters

    # -- day roll, gate, state -------------------------------------------------------------

    def _roll_day(self, ts: int) -> None:
        first = not self.day.day
        if not self.days.roll(ts):
            return
        if not first:
            self._sample_equity(ts)
        key = self.day.day
        self.roster.new_day()
        if not first:
            self.explain(ExplanationKind.DESK, f"New risk day {key}: counters reset.")
        self._save_day()
        self._update_gate()

    async def _load_day(self, ts: int) -> None:
        """At start: today's counters come from the journal, never from zero."""
        self.days.roll(ts)
        row = await self.journal.load_day(self.day.day) if self.journal else None
        self.days.load(ts, row)
        self._update_gate()

    def _save_day(self) -> None:
        if self.journal is not None:
            self._pending.append(self.days.record())

    def _update_gate(self) -> None:
        rec = self.reconciliation
        self.orders.hold({d.symbol for d in rec.pending} if rec is not None else set())
        if rec is not None and rec.blocked:
            self._gate = (
                f"reconciliation: {len(rec.pending)} difference(s) between the exchange and "
                "the journal await adopt/flatten/ignore"
            )
            return
        self._gate = gate_reason(halted=self.halted, paused=self.paused, day=self.day,
                                 stale_s=self._stale_s, cfg=self.config.risk)

    async def _watch_staleness(self) -> None:
        """Live feeds only: stale data and the order owner's timers (engine.staleness)."""
        await watch(self)

    def _announce(self) -> None:
        snap_state = self.snapshot().state
        self._outbox.append(StateChanged(snap_state, self._gate))


    # -- startup reconciliation (live) ----------------------------------------------------

    async def _reconcile(self) -> None:
        """Compare the exchange with the journal; any difference blocks trading until answered."""
        self.reconciliation = await reconcile_at_start(self.venue, self.book, self.orders)
        rec = self.reconciliation
        self.explain(ExplanationKind.ERROR if rec.blocked else ExplanationKind.DESK, rec.describe())
        self._update_gate()

    async def resolve_difference(self, key: str, action: str) -> str:
        """Answer one reconciliation difference: adopt, flatten or ignore."""
        if self.reconciliation is None:
            raise KeyError("nothing to reconcile")
        text = await self.reconciliation.answer(key, action, self.venue, self.book, self.orders)
        self.explain(ExplanationKind.DESK, f"Reconciliation: {text}.")
        self._update_gate()
        self._announce()
        await self.commit()
        return text
