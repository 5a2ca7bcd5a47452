"""The engine's fill side: the venue's reports booked, positions opened and trades closed.

Part of ``Engine`` (engine/engine.py), split out by concern. A fill is booked once (by its
trade id), applied to the portfolio and the day book, explained, handed to the order owner,
marked for exposure and sampled for equity; a fill that closes a position closes its trade.
It runs for every fill of a backtest, so it reads what it needs once and skips the journal
work when there is no journal.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tapedesk.engine import explanations as say
from tapedesk.engine.desk_log import redact
from tapedesk.engine.events import ExplanationKind, Fill, OrderUpdate, Position
from tapedesk.engine.journal import trade_record
from tapedesk.engine.records import fill_key, fill_record, funding_record

if TYPE_CHECKING:
    import asyncio  # annotations only: a backtest never starts an event loop

log = logging.getLogger("tapedesk.engine")

_FILL = ExplanationKind.FILL
_EXIT = ExplanationKind.EXIT


class FillSide:
    """VenueSink reports (``on_fill``, ``on_order_update``, ``on_funding``) and the position
    life cycle they drive; mixed into ``Engine``."""

    # Provided by Engine.
    journal: Any
    venue: Any
    orders: Any
    book: Any
    portfolio: Any
    days: Any
    risk: Any
    exposure: Any
    equity_samples: Any
    publish: bool
    bars_seen: int
    _bar_ts: int
    _positions: dict[str, Position]
    _fills_seen: set[tuple[str, str]]
    _pending: list[Any]
    _outbox: list[Any]
    _soon: asyncio.Task[None] | None
    _journal_gate: str
    _last_sample: int
    specs: dict[str, Any]
    spec: Any
    equity: Any
    explain: Any
    _explain_by: Any
    _strat_state: Any
    roster: Any
    _update_gate: Any
    _announce: Any
    _save_day: Any
    commit: Any

    def on_order_update(self, up: OrderUpdate) -> None:
        self.orders.on_update(up)
        if self.journal is not None:  # _commit_soon's first test, kept off the backtest path
            self._commit_soon()

    def _commit_soon(self) -> None:
        """Live, venue reports arrive between market batches: commit them now, not at the
        next market event (a kill in between would leave the journal without the stop)."""
        if self.journal is None or self._soon is not None or getattr(self.venue, "simulated",
                                                                     True):
            return
        import asyncio

        try:
            self._soon = asyncio.get_running_loop().create_task(self._commit_now())
        except RuntimeError:  # no loop (a test driving the engine by hand)
            return

    async def _commit_now(self) -> None:
        import asyncio

        try:
            await asyncio.sleep(0)  # let the rest of this report's callbacks queue first
            await self.commit()
        finally:
            self._soon = None

    async def journaled(self) -> str:
        """Write-ahead, asked by a live venue before it sends an order: returns once every
        record queued so far (the order's own intent among them) is on disk, with "", or with
        why the journal could not take it (the venue then holds back an order that could add
        exposure; protection goes out anyway). One commit serves every order queued with it."""
        if self.journal is None:
            return ""
        await self.commit()
        return self._journal_gate

    def on_fill(self, fill: Fill) -> None:
        key = fill_key(fill)
        seen = self._fills_seen
        if key in seen:  # reported twice (stream and REST, or across a restart)
            log.info("fill %s of %s already booked: ignored", key[1], fill.client_id)
            return
        seen.add(key)
        journal = self.journal
        if journal is not None:
            self._commit_soon()
        symbol = fill.symbol
        orders = self.orders
        held = self._positions.get(symbol)
        pos_id = held.position_id if held is not None else self.book.opening_id(fill.client_id)
        if journal is not None:
            self._pending.append(fill_record(fill, pos_id))
        plan = orders.plan_for(fill)
        strategy = plan.strategy if plan else (held.strategy if held else "")
        lev = plan.leverage if plan else 1
        spec = self.specs.get(symbol) or self.spec(symbol)  # the cache ``spec`` fills
        effect = self.portfolio.fill(fill, lev, strategy, spec)
        self.days.realized(effect.realized_gross, fill.fee)
        self._explain_by(_FILL, say.fill, (fill, orders.exit_reason.get(symbol, "")),
                         strategy, symbol, "", pos_id)
        if self.publish:
            self._outbox.append(fill)
        opened, closed = effect.opened, effect.closed
        if plan is not None and opened:
            self.days.trade_opened()
            self.roster.state(strategy).trades_today += 1  # Engine._strat_state, inline
        orders.after_fill(fill, effect)
        if opened or closed is not None:
            self._exposure_changed(fill, closed)
        if closed is not None:
            self._close_trade(closed, fill, orders.reason_for(fill))
        self._sample_equity(fill.ts)
        if journal is not None:
            self._save_day()

    def on_funding(self, symbol: str, amount: Decimal, rate: float, ts: int) -> None:
        self.portfolio.funding(symbol, amount)
        self.days.realized(amount)
        if self.journal is not None:
            self._pending.append(funding_record(ts, symbol, amount, rate))
        self.explain(_FILL, f"Funding {symbol} at {rate * 100:.4f} %: {say.signed_money(amount)}.",
                     symbol=symbol)
        self._save_day()
        self._check_day_lock()  # funding alone can take the day past its loss cap

    def on_venue_error(self, text: str) -> None:
        self.explain(ExplanationKind.ERROR, redact(text))  # library text may carry a listenKey

    # -- position life cycle ---------------------------------------------------------------

    def _exposure_changed(self, fill: Fill, closed: Position | None) -> None:
        """A position opened or closed: mark the bar it happened in, overall and for its
        strategy (a fill after the last bar's close is in the next bar)."""
        bar = self.bars_seen + (fill.ts > self._bar_ts)
        positions = self._positions
        mark = self.exposure.mark
        mark("", bar, True if positions else False)  # noqa: SIM210 (bool() is a call)
        held = positions.get(fill.symbol)
        name = held.strategy if held is not None else ""  # "" is the overall key: skipped
        if name:
            mark(name, bar, True)  # ``held`` is its own open position
        gone = closed.strategy if closed is not None else ""
        if gone and gone != name:  # flat (the usual close) needs no look at the others
            mark(gone, bar, bool(positions) and any(p.strategy == gone
                                                    for p in positions.values()))

    def _close_trade(self, pos: Position, fill: Fill, reason: str) -> None:
        trip = self.portfolio.close(pos, fill, reason,
                                    self.specs.get(pos.symbol) or self.spec(pos.symbol))
        self.roster.state(pos.strategy).pnl_today += trip.pnl  # Engine._strat_state, inline
        self.days.trade_closed(trip.pnl)
        if self.journal is not None:
            self._pending.append(trade_record(trip))
        self._explain_by(_EXIT, say.round_trip, (trip,), pos.strategy, pos.symbol, "",
                         pos.position_id)
        if self.publish:
            self._outbox.append(trip)
        self._check_day_lock()

    def _check_day_lock(self) -> None:
        if not self.risk.enabled:
            return  # --no-risk: no day caps, so the day never locks
        why = self.days.lock_if_reached()
        if why:
            self.explain(ExplanationKind.DESK, f"DAY LOCKED: {why}. Trading resumes at the next "
                         f"{self.days.roll_hour:02d}:00 UTC reset.")
            self._update_gate()
            self._announce()

    def _sample_equity(self, ts: int) -> None:
        eq = float(self.equity())
        self._last_sample = ts
        self.equity_samples.add(ts, eq)
        if self.journal is not None:
            self._pending.append(("INSERT INTO equity (ts, equity) VALUES (?, ?)", (ts, eq)))
