"""The engine loop: market events in, explained decisions and orders out (DESIGN.md).

One loop serves live, paper, replay and backtest. ``process`` is synchronous and does the
per-event work (clock, venue, risk gate, strategies, risk vet, orders); everything it wants
to persist or announce is queued, and the async runner commits the queue to the journal in
one transaction *before* telling subscribers. A backtest calls ``process`` in a tight loop
with no journal at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tapedesk.engine import explanations as say
from tapedesk.engine.clock import DAY_MS, Clock, EventClock, day_key, day_start
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.equity_history import EquityHistory
from tapedesk.engine.events import (
    Decision,
    Explanation,
    ExplanationKind,
    Fill,
    Kind,
    MarketEvent,
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    RoundTrip,
    Signal,
    SignalKind,
)
from tapedesk.engine.journal import (
    TRADE_COLUMNS,
    Journal,
    Record,
    day_record,
    explanation_record,
    row_to_explanation,
    row_to_trade,
    setting_record,
    trade_record,
)
from tapedesk.engine.positions import PositionBook, set_isolated_margin
from tapedesk.engine.risk import DayCounters, RiskEngine, day_lock_reason, gate_reason
from tapedesk.engine.snapshot import (
    DayStats,
    DeskSnapshot,
    DeskState,
    FeedStatus,
    StateChanged,
    StrategyStatus,
)
from tapedesk.engine.strategy import Strategy
from tapedesk.engine.symbols import SymbolSpec, spec_for

log = logging.getLogger("tapedesk.engine")

_BAR = Kind.BAR  # module constant: attribute lookups on the enum cost ~100 ns per event
HANDLER_FOR_KIND = {
    Kind.BAR: "on_bar",
    Kind.QUOTE: "on_quote",
    Kind.TRADE: "on_trade",
    Kind.MARK: "on_mark",
    Kind.DEPTH: "on_depth",
}
EXIT_REASON = {
    OrderRole.STOP: "stop-loss",
    OrderRole.TAKE_PROFIT: "take-profit",
    OrderRole.EXIT: "strategy exit",
    OrderRole.FLATTEN: "emergency stop",
    OrderRole.LIQUIDATION: "liquidation",
    OrderRole.ENTRY: "reversed",
}


class Subscription:
    """A bounded mailbox: when full the oldest event is dropped, never the engine blocked."""

    def __init__(self, owner: Engine, maxsize: int) -> None:
        self._owner = owner
        self._items: deque[Any] = deque(maxlen=maxsize)
        self._event = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def put(self, item: Any) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._event.set()

    def drain(self) -> list[Any]:
        items = list(self._items)
        self._items.clear()
        self._event.clear()
        return items

    def close(self) -> None:
        self.closed = True
        self._event.set()
        self._owner._subs.discard(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._event.clear()
            await self._event.wait()
        item = self._items.popleft()
        return item


class _StratState:
    __slots__ = ("enabled", "error", "last_signal", "pnl_today", "signals_today", "trades_today")

    def __init__(self) -> None:
        self.enabled = True
        self.last_signal = ""
        self.signals_today = 0
        self.trades_today = 0
        self.pnl_today = Decimal(0)
        self.error = ""


class Engine:
    def __init__(
        self,
        *,
        config: DeskConfig,
        venue: Any,
        strategies: list[Strategy],
        feed: Any = None,
        journal: Journal | None = None,
        clock: Clock | None = None,
        mode: str = "paper",
        risk: RiskEngine | None = None,
        source_id: str = "",
        specs: dict[str, SymbolSpec] | None = None,
        equity_sample_ms: int = 15 * 60_000,
        keep_explanations: int = 2000,
        disabled: set[str] | frozenset[str] = frozenset(),
        control_path: Any = None,
    ) -> None:
        self.config = config
        self.venue = venue
        self.feed = feed
        self.journal = journal
        self.clock = clock or EventClock()
        self.mode = mode
        self.risk = risk or RiskEngine(config.risk)
        self.strategies = list(strategies)
        self.source_id = source_id
        self.specs = dict(specs or {})
        self.book = PositionBook()
        self._positions = self.book.positions  # the same dict, bound for the hot path
        self.initial_balance = config.paper.initial_balance
        self.balance = Decimal(self.initial_balance)
        self.halted = False
        self.paused = False
        self.day = DayCounters(day="")
        self.trades: list[RoundTrip] = []
        self.recent: deque[Explanation] = deque(maxlen=keep_explanations)
        self.equity_samples = EquityHistory()  # bounded: engine/equity_history.py
        self.equity_sample_ms = equity_sample_ms
        self.bars_seen = 0
        self.bars_in_position = 0
        self.funding_total = Decimal(0)
        self.fees_total = Decimal(0)
        self.on_explanation: Callable[[Explanation], None] | None = None
        self._strat = {s.name: _StratState() for s in self.strategies}
        for name in disabled:
            if name in self._strat:
                self._strat[name].enabled = False
        self._control_path = control_path
        self._control: Any = None
        self._handlers: dict[int, list[tuple[Strategy, Any, frozenset[str] | None]]] = {}
        self._gate = ""
        self._stale_s: float | None = None
        self.reconciliation: Any = None  # engine.reconcile.Reconciliation on a live start
        #: False in backtests: nobody subscribes, so nothing is queued for announcement.
        self.publish = True
        self._roll_hour = config.risk.day_roll_hour_utc
        self._next_roll = 0
        self._pending: list[Record] = []
        self._outbox: list[Any] = []
        self._subs: set[Subscription] = set()
        self._entries: dict[str, tuple[Signal, Decision]] = {}  # symbol -> working entry
        self._protect: dict[str, dict[str, OrderIntent]] = {}  # symbol -> stop/TP orders
        self._orders: dict[str, OrderIntent] = {}
        self._exit_reason: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._id_prefix = f"{time.time_ns() // 1_000_000 % 1_000_000_000:09d}"
        self._last_event_ts = 0
        self._last_rx_wall: float | None = None
        self._last_sample = 0
        self._resume_cursor = -1
        self._started = False
        self._stopping = False
        self._estop_task: asyncio.Task[None] | None = None
        self._run_task: asyncio.Task[Any] | None = None
        self.feed_status = FeedStatus.CONNECTING
        self.venue.bind(self)
        # Bound once: the hot path calls these for every event.
        self._observe = self.clock.observe
        self._venue_on_market = self.venue.on_market
        self._rebuild_handlers()

    # -- public API ----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the journal and restore what must survive a restart."""
        if self._started:
            return
        self._started = True
        if self.journal is not None:
            await self.journal.open()
            self.halted = (await self.journal.get_setting("halted")) == "1"
            self.paused = (await self.journal.get_setting("paused")) == "1"
            for s in self.strategies:
                flag = await self.journal.get_setting(f"strategy.{s.name}.enabled")
                if flag is not None:
                    self._strat[s.name].enabled = flag == "1"
            rows = await self.journal.fetchall(f"SELECT {TRADE_COLUMNS} FROM trades ORDER BY id")
            self.trades = [row_to_trade(r) for r in rows]
            ck = await self.journal.load_checkpoint()
            if ck and (not self.source_id or ck["source"] == self.source_id):
                self._restore(ck)
            for e in await self.recent_explanations(200):
                self.recent.append(e)
            eq = await self.journal.fetchall("SELECT ts, equity FROM equity ORDER BY ts")
            self.equity_samples = EquityHistory((int(t), float(v)) for t, v in eq)
        now = self.clock.now()
        if now:
            await self._load_day(now)
        await self.venue.start()
        if not getattr(self.venue, "simulated", True):
            await self._reconcile()
        self._rebuild_handlers()
        self._pending.append(self._strategies_record())
        if self._control_path is not None:
            from tapedesk.engine.control import ControlServer

            self._control = ControlServer(self, self._control_path)
            await self._control.start()
        if self.halted:
            self.explain(
                ExplanationKind.DESK,
                "Desk starts HALTED (emergency stop was not "
                "resumed): no new entries until you resume explicitly.",
            )

    async def run(self) -> None:
        """Consume the feed until it ends or ``stop()``; commit after every batch."""
        self._run_task = asyncio.current_task()
        await self.start()
        if self.feed is None:
            return
        self.feed_status = getattr(self.feed, "status", FeedStatus.LIVE)
        watchdog = asyncio.create_task(self._watch_staleness())
        try:
            async for batch in self.feed.batches():
                self._last_rx_wall = time.monotonic()
                self.feed_status = getattr(self.feed, "status", FeedStatus.LIVE)
                for ev in batch:
                    if ev.ts <= self._resume_cursor:
                        self._warm(ev)
                    else:
                        self.process(ev)
                if self._pending or self._outbox:
                    await self.commit()
                if self._stopping:
                    break
            self.feed_status = getattr(self.feed, "status", FeedStatus.ENDED)
        finally:
            watchdog.cancel()
            with contextlib.suppress(BaseException):
                await watchdog
            await self.commit()

    async def stop(self) -> None:
        """Stop consuming, let ``run`` finish its last commit, then close everything."""
        self._stopping = True
        run_task = self._run_task
        if run_task is not None and run_task is not asyncio.current_task() and not run_task.done():
            if self.feed is not None and hasattr(self.feed, "close"):
                with contextlib.suppress(Exception):
                    await self.feed.close()
            try:
                await asyncio.wait_for(asyncio.shield(run_task), 5)
            except (TimeoutError, asyncio.CancelledError):
                run_task.cancel()
                with contextlib.suppress(BaseException):
                    await run_task
            except Exception:  # run's own failure was already reported by its owner
                log.exception("engine run ended with an error")
        if self._control is not None:
            await self._control.close()
            self._control = None
        if self._estop_task is not None and not self._estop_task.done():
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._estop_task, 5)
        for s in self.strategies:
            with contextlib.suppress(Exception):
                s.on_stop()
        await self.commit()
        if self.feed is not None and hasattr(self.feed, "close"):
            with contextlib.suppress(Exception):
                await self.feed.close()
        with contextlib.suppress(Exception):
            await self.venue.close()
        if self.journal is not None:
            await self.journal.close()
        for sub in list(self._subs):
            sub.close()

    async def pause(self) -> None:
        await self._set_flag(
            "paused",
            True,
            "Desk PAUSED: no new entries; open trades are still managed by their stop and target.",
        )

    async def resume(self) -> None:
        await self._set_flag("paused", False, "Desk resumed: strategies are asked again.")

    async def resume_from_halt(self) -> None:
        await self._set_flag("halted", False, "Halt lifted by the trader: new entries allowed.")

    async def set_strategy_enabled(self, name: str, enabled: bool) -> None:
        st = self._strat.get(name)
        if st is None:
            raise KeyError(f"no strategy named {name!r}")
        st.enabled = enabled
        if enabled:
            st.error = ""
        self._pending.append(setting_record(f"strategy.{name}.enabled", "1" if enabled else "0"))
        self._pending.append(self._strategies_record())
        self._rebuild_handlers()
        self.explain(
            ExplanationKind.DESK,
            f"Strategy {name} {'enabled' if enabled else 'disabled'}.",
            strategy=name,
        )
        self._announce()
        await self.commit()

    async def get_setting(self, key: str) -> str | None:
        return await self.journal.get_setting(key) if self.journal else None

    async def set_setting(self, key: str, value: str) -> None:
        self._pending.append(setting_record(key, value))
        await self.commit()

    def subscribe(self, maxsize: int = 2000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subs.add(sub)
        return sub

    async def recent_trades(self, limit: int = 200) -> list[RoundTrip]:
        return list(reversed(self.trades[-limit:]))

    async def recent_explanations(self, limit: int = 500) -> list[Explanation]:
        if self.journal is None:
            return list(self.recent)[-limit:]
        rows = await self.journal.fetchall(
            "SELECT ts, kind, text, strategy, symbol, rule FROM explanations "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [row_to_explanation(r) for r in reversed(rows)]

    def equity_curve(self) -> list[tuple[int, float]]:
        return list(self.equity_samples)

    def position(self, symbol: str) -> Position | None:
        return self.book.positions.get(symbol)

    def now(self) -> int:
        return self.clock.now()

    def equity(self) -> Decimal:
        return self.balance + self.unrealized()

    def unrealized(self) -> Decimal:
        total = Decimal(0)
        prices = getattr(self.venue, "last_price", {})
        for p in self.book.positions.values():
            px = prices.get(p.symbol)
            if px:
                total += (Decimal(str(px)) - p.entry_price) * p.qty * p.side.sign
        return total

    def snapshot(self) -> DeskSnapshot:
        cfg = self.config.risk
        d = self.day
        now = self.clock.now()
        if self.halted:
            state = DeskState.HALTED
        elif d.locked:
            state = DeskState.DAY_LOCKED
        elif self.paused:
            state = DeskState.PAUSED
        else:
            state = DeskState.RUNNING
        age = None
        if self._last_rx_wall is not None and self.feed_status not in (
            FeedStatus.REPLAY,
            FeedStatus.ENDED,
        ):
            age = int((time.monotonic() - self._last_rx_wall) * 1000)
        elif self._last_event_ts:
            age = max(0, now - self._last_event_ts)
        unreal = self.unrealized()
        return DeskSnapshot(
            mode=self.mode,
            state=state,
            paused=self.paused,
            halted=self.halted,
            symbols=tuple(self.config.symbols),
            now_ts=now,
            next_reset_ts=day_start(now, self._roll_hour) + DAY_MS if now else 0,
            day=DayStats(
                d.day,
                d.trades,
                d.losses,
                d.realized_pnl,
                d.fees,
                d.locked,
                d.lock_reason,
                max(0, cfg.max_trades_per_day - d.trades),
                max(0, cfg.max_losing_trades_per_day - d.losses),
            ),
            balance=self.balance,
            equity=self.balance + unreal,
            unrealized_pnl=unreal,
            positions=dict(self.book.positions),
            last_prices=dict(getattr(self.venue, "last_price", {})),
            feed_status=self.feed_status,
            data_age_ms=age,
            strategies=tuple(
                StrategyStatus(
                    i + 1,
                    s.name,
                    self._strat[s.name].enabled,
                    self._strat[s.name].last_signal,
                    self._strat[s.name].signals_today,
                    self._strat[s.name].trades_today,
                    self._strat[s.name].pnl_today,
                    self._strat[s.name].error,
                )
                for i, s in enumerate(self.strategies)
            ),
            venue=getattr(self.venue, "name", "?"),
            api_weight=getattr(self.venue, "api_weight", None),
            extra={"gate": self._gate},
        )

    # -- startup reconciliation (live) ----------------------------------------------------

    async def _reconcile(self) -> None:
        """Compare the exchange with the journal; any difference blocks trading until answered."""
        from tapedesk.engine.reconcile import Reconciliation

        journal_orders = list(self._orders.values())
        rec = await Reconciliation.with_venue(self.venue, dict(self.book.positions), journal_orders)
        self.reconciliation = rec
        self.explain(ExplanationKind.ERROR if rec.blocked else ExplanationKind.DESK, rec.describe())
        self._update_gate()

    async def resolve_difference(self, key: str, action: str) -> str:
        """Answer one reconciliation difference: adopt, flatten or ignore."""
        from tapedesk.engine.reconcile import Action

        rec = self.reconciliation
        if rec is None:
            raise KeyError("nothing to reconcile")
        act = Action(action)
        diff = rec.get(key)
        text = await rec.resolve(key, act, self.venue)
        if diff.kind == "position":
            if act is Action.ADOPT and diff.exchange_position is not None:
                self.book.positions[diff.symbol] = diff.exchange_position
            else:
                self.book.positions.pop(diff.symbol, None)
        elif diff.journal_order is not None:
            self._orders.pop(diff.journal_order.client_id, None)
        if act is Action.ADOPT and diff.exchange_order is not None:
            self._orders[diff.exchange_order.client_id] = diff.exchange_order
        self.explain(ExplanationKind.DESK, f"Reconciliation: {text}.")
        self._update_gate()
        self._announce()
        await self.commit()
        return text

    # -- emergency stop --------------------------------------------------------------------

    async def emergency_stop(self) -> bool:
        """Halt entries, cancel everything, close reduce-only, verify flat; retry until flat.

        Works with the market stream dead: it talks only to the venue. Returns True only
        when the venue itself reported flat with no open orders.
        """
        if self._estop_task is not None and not self._estop_task.done():
            return await asyncio.shield(self._estop_task)
        self._estop_task = asyncio.ensure_future(self._emergency_stop())
        return await asyncio.shield(self._estop_task)

    async def _emergency_stop(self) -> bool:
        self.halted = True
        self._pending.append(setting_record("halted", "1"))
        self._entries.clear()
        self._update_gate()
        self.explain(ExplanationKind.DESK, "EMERGENCY STOP: new entries halted.")
        self._announce()
        # Cancel and close first, commit after: the halt is already in force in memory, and
        # the exchange must hear from us before the disk does (bench/ui_throughput.py).
        delay = 0.2
        for attempt in itertools.count(1):
            try:
                working = len(self._orders)
                await self.venue.cancel_all()
                self.explain(
                    ExplanationKind.DESK,
                    f"Step 1/3 cancel: {working} open "
                    f"order(s) cancelled (regular and conditional).",
                )
                self._protect.clear()
                positions = await self.venue.fetch_positions()
                for pos in positions.values():
                    self.close_position(pos, OrderRole.FLATTEN, "emergency stop")
                self.explain(
                    ExplanationKind.DESK,
                    f"Step 2/3 close: {len(positions)} position(s)"
                    " sent reduce-only market close orders.",
                )
                await self.commit()
                await asyncio.sleep(0)
                left = await self.venue.fetch_positions()
                left_orders = await self.venue.fetch_open_orders()
                if not left and not left_orders:
                    self.explain(
                        ExplanationKind.DESK,
                        "Step 3/3 verify: the venue reports FLAT "
                        "with no open orders. Desk stays HALTED until you resume.",
                    )
                    await self.commit()
                    return True
                self.explain(
                    ExplanationKind.ERROR,
                    f"Verify attempt {attempt}: venue still shows "
                    f"{len(left)} position(s) and {len(left_orders)} order(s); retrying.",
                )
            except Exception as exc:  # the venue may be down: keep trying, say why
                self.explain(
                    ExplanationKind.ERROR,
                    f"Emergency stop attempt {attempt} failed: {exc}; retrying in {delay:.1f} s.",
                )
            await self.commit()
            if self._stopping and attempt >= 3:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    # -- the hot path ----------------------------------------------------------------------

    def process(self, ev: MarketEvent) -> None:
        """One market event through venue, gate, strategies and risk (the hot path).

        Written for speed: locals instead of repeated attribute chains, no per-event
        allocation, the gate a cached string, handlers pre-bound per event kind.
        """
        ts = ev.ts
        self._observe(ts)
        self._last_event_ts = ts
        if ts >= self._next_roll:
            self._roll_day(ts)
        positions = self._positions
        held = bool(positions)
        self._venue_on_market(ev)
        kind = ev.kind
        if kind is _BAR:
            self.bars_seen += 1
            # A bar counts as exposed if a position was held at any point in it.
            if held or positions:
                self.bars_in_position += 1
                if ts - self._last_sample >= self.equity_sample_ms:
                    self._sample_equity(ts)
        if self._gate:
            return
        handlers = self._handlers.get(kind)
        if not handlers:
            return
        sym = ev.symbol
        for strat, fn, symbols, notes in handlers:
            if symbols is not None and sym not in symbols:
                continue
            try:
                sig = fn(ev)
            except Exception as exc:
                self._strategy_failed(strat, exc)
                continue
            if notes:  # setups the strategy looked at and turned down, in words
                self._drain_notes(strat)
            if sig is not None:
                self._on_signal(strat, sig)
                if self._gate:
                    return

    def _warm(self, ev: MarketEvent) -> None:
        """Replay an already-journaled event to strategies only (after a restart)."""
        self.clock.observe(ev.ts)
        handlers = self._handlers.get(ev.kind) or ()
        for _strat, fn, symbols, notes in handlers:
            if symbols is None or ev.symbol in symbols:
                with contextlib.suppress(Exception):
                    fn(ev)
                if notes:
                    notes.clear()  # explained before the restart already

    # -- signals and decisions -------------------------------------------------------------

    def _on_signal(self, strat: Strategy, sig: Signal) -> None:
        st = self._strat[strat.name]
        st.signals_today += 1
        st.last_signal = f"{sig.kind} {sig.side} @ {say.price(sig.entry)}"
        spec = self.spec(sig.symbol)
        pos = self.book.positions.get(sig.symbol)
        avail = self.venue.available() if hasattr(self.venue, "available") else self.balance
        dec = self.risk.vet(
            sig,
            day=self.day,
            equity=self.equity(),
            available=avail,
            spec=spec,
            has_position=pos is not None,
            has_pending=sig.symbol in self._entries,
        )
        self._record_decision(dec)
        if not dec.accepted:
            self.explain(
                ExplanationKind.REFUSED,
                say.refused(dec),
                strategy=sig.strategy,
                symbol=sig.symbol,
                rule=dec.rule,
            )
            return
        self.explain(
            ExplanationKind.TAKEN,
            say.taken(dec, self.equity(), self.config.risk.risk_per_trade_pct),
            strategy=sig.strategy,
            symbol=sig.symbol,
            rule=dec.rule,
        )
        if sig.kind is SignalKind.EXIT:
            if pos is not None:
                self.close_position(pos, OrderRole.EXIT, "strategy exit")
            return
        if hasattr(self.venue, "set_leverage"):
            self.venue.set_leverage(sig.symbol, dec.leverage)
        self._entries[sig.symbol] = (sig, dec)
        self._submit(
            self._intent(
                sig.symbol,
                sig.side.order_side,
                OrderType.MARKET,
                dec.qty,
                OrderRole.ENTRY,
                strategy=sig.strategy,
            )
        )

    def _record_decision(self, dec: Decision) -> None:
        if self.journal is None:
            return
        sig = dec.signal
        self._pending.append(
            (
                "INSERT INTO decisions (ts, strategy, symbol, side, kind, accepted, rule, text, numbers)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sig.ts,
                    sig.strategy,
                    sig.symbol,
                    str(sig.side),
                    str(sig.kind),
                    int(dec.accepted),
                    dec.rule,
                    dec.text,
                    _json(
                        {
                            **dec.numbers,
                            "reasons": sig.reasons,
                            "passed": dec.passed,
                            "qty": str(dec.qty),
                        }
                    ),
                ),
            )
        )

    def close_position(self, pos: Position, role: OrderRole, reason: str) -> None:
        """Send the reduce-only market order that closes ``pos``; ``reason`` labels the trade."""
        self._exit_reason[pos.symbol] = reason
        self._submit(
            self._intent(
                pos.symbol,
                pos.side.opposite.order_side,
                OrderType.MARKET,
                pos.qty,
                role,
                reduce_only=True,
                strategy=pos.strategy,
            )
        )

    # -- orders ----------------------------------------------------------------------------

    def _intent(
        self,
        symbol: str,
        side: str,
        typ: OrderType,
        qty: Decimal,
        role: OrderRole,
        *,
        stop: Decimal | None = None,
        reduce_only: bool = False,
        strategy: str = "",
    ) -> OrderIntent:
        letter = {
            OrderRole.ENTRY: "e",
            OrderRole.STOP: "s",
            OrderRole.TAKE_PROFIT: "t",
            OrderRole.EXIT: "x",
            OrderRole.FLATTEN: "f",
            OrderRole.LIQUIDATION: "l",
        }[role]
        # td-<token>-<role letter>: the format engine.binance.venue.role_from_client_id reads.
        cid = f"td-{self._id_prefix}{next(self._ids)}-{letter}"
        return OrderIntent(
            cid,
            symbol,
            side,
            typ,
            qty,
            role,
            self.clock.now(),
            stop_price=stop,
            reduce_only=reduce_only,
            strategy=strategy,
        )

    def _submit(self, intent: OrderIntent) -> None:
        self._orders[intent.client_id] = intent
        if self.journal is not None:
            self._pending.append(
                (
                    "INSERT INTO orders (client_id, ts, symbol, side, type, qty, price, stop_price, "
                    "reduce_only, role, strategy, status, reason, updated_ts) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'SENT', '', ?)",
                    (
                        intent.client_id,
                        intent.ts,
                        intent.symbol,
                        intent.side,
                        str(intent.type),
                        str(intent.qty),
                        _s(intent.price),
                        _s(intent.stop_price),
                        int(intent.reduce_only),
                        str(intent.role),
                        intent.strategy,
                        intent.ts,
                    ),
                )
            )
        self.venue.submit(intent)

    # -- VenueSink -------------------------------------------------------------------------

    def on_order_update(self, up: OrderUpdate) -> None:
        intent = self._orders.get(up.client_id)
        if self.journal is not None:
            self._pending.append(
                (
                    "UPDATE orders SET status = ?, reason = ?, updated_ts = ? WHERE client_id = ?",
                    (str(up.status), up.reason, up.ts, up.client_id),
                )
            )
        if up.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            return
        self._orders.pop(up.client_id, None)
        if up.status in (OrderStatus.REJECTED, OrderStatus.EXPIRED) and intent is not None:
            what = {
                OrderRole.ENTRY: "Entry",
                OrderRole.STOP: "Stop-loss",
                OrderRole.TAKE_PROFIT: "Take-profit",
                OrderRole.EXIT: "Exit",
                OrderRole.FLATTEN: "Emergency close",
            }.get(intent.role, "Order")
            kind = (
                ExplanationKind.ERROR if up.status is OrderStatus.REJECTED else ExplanationKind.DESK
            )
            self.explain(
                kind,
                f"{what} order {intent.side} {intent.qty} {intent.symbol} "
                f"{str(up.status).lower()}: {up.reason or 'no reason given'}.",
                strategy=intent.strategy,
                symbol=intent.symbol,
            )
            if intent.role is OrderRole.ENTRY:
                self._entries.pop(intent.symbol, None)
            elif intent.role is OrderRole.STOP and up.status is OrderStatus.REJECTED:
                # An unprotected position is worse than no position: close it now.
                pos = self.book.positions.get(intent.symbol)
                if pos is not None:
                    self.explain(
                        ExplanationKind.ERROR,
                        f"No stop-loss on {intent.symbol}: "
                        "closing the position at market rather than leave it unprotected.",
                    )
                    self.close_position(pos, OrderRole.EXIT, "stop rejected")

    def on_fill(self, fill: Fill) -> None:
        if self.journal is not None:
            self._pending.append(
                (
                    "INSERT INTO fills (client_id, seq, trade_id, ts, symbol, side, qty, price, fee, "
                    "liquidity, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fill.client_id,
                        fill.seq,
                        fill.trade_id,
                        fill.ts,
                        fill.symbol,
                        fill.side,
                        str(fill.qty),
                        str(fill.price),
                        str(fill.fee),
                        str(fill.liquidity),
                        str(fill.role),
                    ),
                )
            )
        entry = self._entries.get(fill.symbol) if fill.role is OrderRole.ENTRY else None
        lev = entry[1].leverage if entry else 1
        held = self.book.positions.get(fill.symbol)
        strategy = entry[0].strategy if entry else (held.strategy if held else "")
        effect = self.book.apply(fill, lev, strategy)
        pos_now = self._positions.get(fill.symbol)
        if pos_now is not None:
            spec = self.spec(fill.symbol)
            set_isolated_margin(pos_now, spec.maint_margin_rate, spec.maint_amount)
        self.balance += effect.realized_gross - fill.fee
        self.fees_total += fill.fee
        d = self.day
        d.realized_pnl += effect.realized_gross - fill.fee
        d.fees += fill.fee
        self.explain(ExplanationKind.FILL, say.fill(fill), symbol=fill.symbol, strategy=strategy)
        if self.publish:
            self._outbox.append(fill)
        if entry is not None and effect.opened:
            self._entries.pop(fill.symbol, None)
            d.trades += 1
            self._strat_state(strategy).trades_today += 1
            self._protect_position(fill, entry[0], entry[1])
        if effect.closed is not None:
            reason = EXIT_REASON.get(fill.role, str(fill.role))
            reason = (
                self._exit_reason.pop(fill.symbol, reason)
                if fill.role in (OrderRole.EXIT, OrderRole.FLATTEN)
                else reason
            )
            self._close_trade(effect.closed, fill, reason)
        self._sample_equity(fill.ts)
        self._save_day()

    def on_funding(self, symbol: str, amount: Decimal, rate: float, ts: int) -> None:
        self.balance += amount
        self.funding_total += amount
        self.day.realized_pnl += amount
        pos = self.book.positions.get(symbol)
        if pos is not None:
            pos.funding += amount
        if self.journal is not None:
            self._pending.append(
                (
                    "INSERT INTO funding (ts, symbol, amount, rate) VALUES (?, ?, ?, ?)",
                    (ts, symbol, str(amount), rate),
                )
            )
        self.explain(
            ExplanationKind.FILL,
            f"Funding {symbol} at {rate * 100:.4f} %: {say.signed_money(amount)}.",
            symbol=symbol,
        )
        self._save_day()

    def on_venue_error(self, text: str) -> None:
        self.explain(ExplanationKind.ERROR, text)

    # -- position life cycle ---------------------------------------------------------------

    def _protect_position(self, fill: Fill, sig: Signal, dec: Decision) -> None:
        """Place the exchange-side reduce-only stop (and target) right after the entry fills."""
        pos = self.book.positions[fill.symbol]
        spec = self.spec(fill.symbol)
        out = pos.side.opposite.order_side
        # Round the stop and the target toward entry: never more risk than was vetted.
        stop = spec.round_price(sig.stop_loss, "up" if pos.side.sign > 0 else "down")
        pos.stop_loss = stop
        pos.strategy = sig.strategy
        pos.risk_amount = abs(pos.entry_price - stop) * pos.qty
        orders = {
            "stop": self._intent(
                fill.symbol,
                out,
                OrderType.STOP_MARKET,
                pos.qty,
                OrderRole.STOP,
                stop=stop,
                reduce_only=True,
                strategy=sig.strategy,
            )
        }
        if sig.take_profit:
            tp = spec.round_price(sig.take_profit, "down" if pos.side.sign > 0 else "up")
            pos.take_profit = tp
            orders["tp"] = self._intent(
                fill.symbol,
                out,
                OrderType.TAKE_PROFIT_MARKET,
                pos.qty,
                OrderRole.TAKE_PROFIT,
                stop=tp,
                reduce_only=True,
                strategy=sig.strategy,
            )
        self._protect[fill.symbol] = orders
        for intent in orders.values():
            self._submit(intent)

    def _close_trade(self, pos: Position, fill: Fill, reason: str) -> None:
        for intent in self._protect.pop(pos.symbol, {}).values():
            if intent.client_id in self._orders:
                self.venue.cancel(pos.symbol, intent.client_id)
        exit_px = pos.exit_notional / pos.exit_qty if pos.exit_qty else fill.price
        pnl = pos.realized_gross - pos.fees + pos.funding
        trip = RoundTrip(
            symbol=pos.symbol,
            side=pos.side,
            qty=pos.peak_qty,
            entry_price=pos.entry_price,
            exit_price=exit_px.quantize(self.spec(pos.symbol).tick_size / 100),
            entry_ts=pos.opened_ts,
            exit_ts=fill.ts,
            gross_pnl=pos.realized_gross,
            fees=pos.fees,
            funding=pos.funding,
            pnl=pnl,
            strategy=pos.strategy,
            reason=reason,
            risk_amount=pos.risk_amount,
        )
        self.trades.append(trip)
        st = self._strat_state(pos.strategy)
        st.pnl_today += pnl
        if pnl < 0:
            self.day.losses += 1
        if self.journal is not None:
            self._pending.append(trade_record(trip))
        self.explain(
            ExplanationKind.EXIT, say.round_trip(trip), strategy=pos.strategy, symbol=pos.symbol
        )
        if self.publish:
            self._outbox.append(trip)
        self._check_day_lock()

    def _check_day_lock(self) -> None:
        d = self.day
        if d.locked:
            return
        why = day_lock_reason(d, self.config.risk)
        if why:
            d.locked, d.lock_reason = True, why
            self.explain(
                ExplanationKind.DESK,
                f"DAY LOCKED: {why}. Trading resumes at the next "
                f"{self._roll_hour:02d}:00 UTC reset.",
            )
            self._update_gate()
            self._announce()

    # -- day roll, gate, state -------------------------------------------------------------

    def _roll_day(self, ts: int) -> None:
        key = day_key(ts, self._roll_hour)
        first = not self.day.day
        self._next_roll = day_start(ts, self._roll_hour) + DAY_MS
        if key == self.day.day:
            return
        if not first:
            self._sample_equity(ts)
        self.day = DayCounters(day=key)
        for st in self._strat.values():
            st.signals_today = st.trades_today = 0
            st.pnl_today = Decimal(0)
        if not first:
            self.explain(ExplanationKind.DESK, f"New risk day {key}: counters reset.")
        self._save_day()
        self._update_gate()

    async def _load_day(self, ts: int) -> None:
        """At start: today's counters come from the journal, never from zero."""
        key = day_key(ts, self._roll_hour)
        self._next_roll = day_start(ts, self._roll_hour) + DAY_MS
        row = await self.journal.load_day(key) if self.journal else None
        if row:
            self.day = DayCounters(
                key, row[0], row[1], Decimal(row[2]), Decimal(row[3]), bool(row[4]), row[5]
            )
        else:
            self.day = DayCounters(key)
        self._update_gate()

    def _save_day(self) -> None:
        if self.journal is None:
            return
        d = self.day
        self._pending.append(
            day_record(d.day, d.trades, d.losses, d.realized_pnl, d.fees, d.locked, d.lock_reason)
        )

    def _update_gate(self) -> None:
        rec = self.reconciliation
        if rec is not None and rec.blocked:
            self._gate = (
                f"reconciliation: {len(rec.pending)} difference(s) between the exchange and "
                "the journal await adopt/flatten/ignore"
            )
            return
        self._gate = gate_reason(
            halted=self.halted,
            paused=self.paused,
            day=self.day,
            stale_s=self._stale_s,
            cfg=self.config.risk,
        )

    async def _watch_staleness(self) -> None:
        """Live feeds only: no event for ``stale_after_s`` wall seconds → strategies not asked."""
        if getattr(self.feed, "status", None) == FeedStatus.REPLAY or isinstance(
            self.clock, EventClock
        ):
            return
        was_stale = False
        while True:
            await asyncio.sleep(0.5)
            if self._last_rx_wall is None:
                continue
            age = time.monotonic() - self._last_rx_wall
            stale = age > self.config.risk.stale_after_s
            if stale != was_stale:
                was_stale = stale
                self._stale_s = age if stale else None
                self._update_gate()
                self.feed_status = (
                    FeedStatus.STALE if stale else getattr(self.feed, "status", FeedStatus.LIVE)
                )
                self.explain(
                    ExplanationKind.ERROR if stale else ExplanationKind.DESK,
                    f"Market data STALE ({age:.1f} s): strategies not asked."
                    if stale
                    else "Market data fresh again.",
                )
                self._announce()
                await self.commit()

    async def _set_flag(self, name: str, value: bool, text: str) -> None:
        if getattr(self, name) == value:
            return
        setattr(self, name, value)
        self._pending.append(setting_record(name, "1" if value else "0"))
        self._update_gate()
        self.explain(ExplanationKind.DESK, text)
        self._announce()
        await self.commit()

    def _announce(self) -> None:
        snap_state = self.snapshot().state
        self._outbox.append(StateChanged(snap_state, self._gate))

    def _sample_equity(self, ts: int) -> None:
        eq = float(self.equity())
        self._last_sample = ts
        self.equity_samples.append((ts, eq))
        if self.journal is not None:
            self._pending.append(("INSERT INTO equity (ts, equity) VALUES (?, ?)", (ts, eq)))

    def explain(
        self,
        kind: ExplanationKind,
        text: str,
        *,
        strategy: str = "",
        symbol: str = "",
        rule: str = "",
    ) -> None:
        e = Explanation(self.clock.now(), kind, text, strategy, symbol, rule)
        self.recent.append(e)
        if self.journal is not None:
            self._pending.append(explanation_record(e))
        if self.publish:
            self._outbox.append(e)
        if self.on_explanation is not None:
            self.on_explanation(e)

    def spec(self, symbol: str) -> SymbolSpec:
        spec = self.specs.get(symbol)
        if spec is None:
            venue_spec = getattr(self.venue, "spec", None)
            spec = venue_spec(symbol) if venue_spec else spec_for(symbol)
            self.specs[symbol] = spec
        return spec

    def _strat_state(self, name: str) -> _StratState:
        st = self._strat.get(name)
        if st is None:
            st = self._strat[name] = _StratState()
        return st

    def _strategy_failed(self, strat: Strategy, exc: Exception) -> None:
        st = self._strat[strat.name]
        st.enabled = False
        st.error = f"{type(exc).__name__}: {exc}"
        log.exception("strategy %s failed", strat.name)
        self._rebuild_handlers()
        self.explain(
            ExplanationKind.ERROR,
            f"Strategy {strat.name} raised {st.error}; it is "
            "disabled (press its number to re-enable after fixing it).",
            strategy=strat.name,
        )

    def _rebuild_handlers(self) -> None:
        handlers: dict[int, list[tuple[Strategy, Any, frozenset[str] | None, Any]]] = {}
        for s in self.strategies:
            if not self._strat[s.name].enabled:
                continue
            if s.ctx is None:
                s.on_start(self)
            syms = frozenset(s.symbols) if s.symbols else None
            # Strategies with skip notes (engine.strategies.notes) get them drained into the
            # explanation log: the trades not taken are explained too.
            notes = getattr(s, "notes", None) if hasattr(s, "drain_notes") else None
            for kind, meth in HANDLER_FOR_KIND.items():
                if s.handles(meth):
                    handlers.setdefault(kind, []).append((s, getattr(s, meth), syms, notes))
        self._handlers = handlers

    def _strategies_record(self) -> Record:
        """The strategy line-up with enabled flags, for `tapedesk status` in another shell."""
        lineup = [{"name": s.name, "enabled": self._strat[s.name].enabled} for s in self.strategies]
        return setting_record("strategies", _json(lineup))

    def _drain_notes(self, strat: Strategy) -> None:
        for _ts, symbol, text in strat.drain_notes():  # type: ignore[attr-defined]
            self.explain(
                ExplanationKind.REFUSED, text, strategy=strat.name, symbol=symbol, rule="strategy"
            )

    # -- journal commit --------------------------------------------------------------------

    async def commit(self) -> None:
        """Write queued records (one transaction), then tell subscribers."""
        records, self._pending = self._pending, []
        outbox, self._outbox = self._outbox, []
        if self.journal is not None and (records or outbox) and self.journal._db is not None:
            await self.journal.write(records, self._checkpoint())
        for item in outbox:
            for sub in self._subs:
                sub.put(item)

    def _checkpoint(self) -> dict[str, Any]:
        to_state = getattr(self.venue, "to_state", None)
        return {
            "source": self.source_id,
            "cursor_ts": self._last_event_ts,
            "venue_state": to_state() if to_state else {},
            "engine_state": {
                "balance": str(self.balance),
                "fees_total": str(self.fees_total),
                "funding_total": str(self.funding_total),
                "positions": [_position_state(p) for p in self.book.positions.values()],
                "protect": {
                    sym: {k: i.client_id for k, i in o.items()} for sym, o in self._protect.items()
                },
                "orders": {
                    cid: {
                        "symbol": i.symbol,
                        "role": str(i.role),
                        "side": i.side,
                        "qty": str(i.qty),
                        "strategy": i.strategy,
                    }
                    for cid, i in self._orders.items()
                },
                "entries": {
                    sym: _entry_state(sig, dec) for sym, (sig, dec) in self._entries.items()
                },
                "exit_reason": dict(self._exit_reason),
                "bars_seen": self.bars_seen,
                "bars_in_position": self.bars_in_position,
            },
        }

    def _restore(self, ck: dict[str, Any]) -> None:
        from tapedesk.engine.paper_venue import _pos_from_dict

        es = ck["engine_state"]
        self.balance = Decimal(es.get("balance", str(self.balance)))
        self.fees_total = Decimal(es.get("fees_total", "0"))
        self.funding_total = Decimal(es.get("funding_total", "0"))
        self.bars_seen = int(es.get("bars_seen", 0))
        self.bars_in_position = int(es.get("bars_in_position", 0))
        for p in es.get("positions", []):
            pos = _pos_from_dict(p)
            pos.stop_loss = Decimal(p["stop"]) if p.get("stop") else None
            pos.take_profit = Decimal(p["tp"]) if p.get("tp") else None
            pos.risk_amount = Decimal(p.get("risk", "0"))
            self.book.positions[pos.symbol] = pos
        for cid, o in es.get("orders", {}).items():
            self._orders[cid] = OrderIntent(
                cid,
                o["symbol"],
                o["side"],
                OrderType.MARKET,
                Decimal(o["qty"]),
                OrderRole(o["role"]),
                0,
                strategy=o.get("strategy", ""),
            )
        for sym, e in es.get("entries", {}).items():
            self._entries[sym] = _entry_from_state(e)
        self._exit_reason.update(es.get("exit_reason", {}))
        for sym, ids in es.get("protect", {}).items():
            self._protect[sym] = {k: self._orders[c] for k, c in ids.items() if c in self._orders}
        load = getattr(self.venue, "load_state", None)
        if load and ck.get("venue_state"):
            load(ck["venue_state"])
        self._resume_cursor = int(ck["cursor_ts"])
        self._last_event_ts = self._resume_cursor
        self.clock.observe(self._resume_cursor)
        self.explain(
            ExplanationKind.DESK,
            "Resumed from the journal: events up to "
            f"{self._resume_cursor} were already processed and are only replayed to "
            "warm up strategies.",
        )


def _position_state(p: Position) -> dict[str, Any]:
    from tapedesk.engine.paper_venue import _pos_to_dict

    d = _pos_to_dict(p)
    d.update(stop=_s(p.stop_loss), tp=_s(p.take_profit), risk=str(p.risk_amount))
    return d


def _entry_state(sig: Signal, dec: Decision) -> dict[str, Any]:
    return {
        "strategy": sig.strategy,
        "symbol": sig.symbol,
        "side": str(sig.side),
        "ts": sig.ts,
        "entry": sig.entry,
        "stop": sig.stop_loss,
        "tp": sig.take_profit,
        "reasons": sig.reasons,
        "qty": str(dec.qty),
        "leverage": dec.leverage,
    }


def _entry_from_state(e: dict[str, Any]) -> tuple[Signal, Decision]:
    from tapedesk.engine.events import Side

    sig = Signal(
        e["strategy"],
        e["symbol"],
        Side(e["side"]),
        int(e["ts"]),
        float(e["entry"]),
        float(e["stop"]),
        float(e["tp"]),
        reasons=list(e.get("reasons", [])),
    )
    return sig, Decision(sig, True, qty=Decimal(e["qty"]), leverage=int(e["leverage"]))


def _s(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, default=str)
