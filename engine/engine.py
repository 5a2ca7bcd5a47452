"""The engine loop: market events in, explained decisions and orders out (DESIGN.md).

One loop serves live, paper, replay and backtest. ``process`` is synchronous and does the
per-event work (clock, venue, risk gate, strategies, risk vet, orders); everything it wants
to persist or announce is queued, and the async runner commits the queue to the journal in
one transaction *before* telling subscribers. A backtest calls ``process`` in a tight loop
with no journal at all.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tapedesk.engine.checkpoint import checkpoint, restore
from tapedesk.engine.clock import Clock, EventClock
from tapedesk.engine.commit import commit
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.day_book import DayBook
from tapedesk.engine.decision_side import DecisionSide
from tapedesk.engine.desk_view import desk_snapshot
from tapedesk.engine.entry_gate import EntryGate
from tapedesk.engine.equity_history import EquityHistory
from tapedesk.engine.events import (
    Bar,
    Explanation,
    ExplanationKind,
    Kind,
    MarketEvent,
)
from tapedesk.engine.explain_log import ExplainLog
from tapedesk.engine.exposure import Exposure
from tapedesk.engine.feed_loop import FeedLoop
from tapedesk.engine.fill_side import FillSide
from tapedesk.engine.journal import (
    Journal,
    Record,
)
from tapedesk.engine.journal_health import (
    JournalHealth,
)
from tapedesk.engine.orders import Orders
from tapedesk.engine.portfolio import Portfolio
from tapedesk.engine.risk import RiskEngine, venue_costs
from tapedesk.engine.snapshot import DeskSnapshot, FeedStatus
from tapedesk.engine.strategy import Strategy
from tapedesk.engine.strategy_roster import BadSignal, Handler, Roster, StratState, raised_at
from tapedesk.engine.subscription import Subscription
from tapedesk.engine.symbols import SymbolSpec, spec_for
from tapedesk.engine.trader_commands import TraderCommands

if TYPE_CHECKING:
    import asyncio  # annotations only: a backtest never starts an event loop

log = logging.getLogger("tapedesk.engine")

_BAR = Kind.BAR  # module constant: attribute lookups on the enum cost ~100 ns per event
_ZERO = Decimal(0)
_NO_PRICES: dict[str, float] = {}  # a venue without last prices (never written)


def _portfolio(name: str) -> Any:
    """An engine attribute that is the portfolio's (callers read ``engine.balance``)."""
    return property(lambda self: getattr(self.portfolio, name),
                    lambda self, value: setattr(self.portfolio, name, value))


class Engine(FeedLoop, TraderCommands, DecisionSide, FillSide, EntryGate, ExplainLog):
    """Routes market events and venue reports to their owners (DESIGN.md flow): the order
    owner (``orders``), the day book (``days``), the portfolio, the strategy roster, the
    risk engine and the journal queue. It holds no trading rule of its own."""

    #: Binance endpoints name and data source, set by engine.assembly; shown in the snapshot.
    environment: str = ""
    feed_source: str = "replay"
    journal_health: JournalHealth | None = None
    #: Called with each announced item (explanations, trades, state) *after* its commit.
    on_committed: Callable[[Any], None] | None = None
    _cold: dict[int, list[Any]] | None = None  # handlers of strategies that must warm up
    _feed_pos = 0  # events taken from the feed so far (a replay's exact resume point)
    #: engine.position_actions: symbol -> the trader's manual close that pauses re-entry
    #: (made on the first one; None here so asking for it on every entry raises nothing).
    _manual_closes: dict[str, Any] | None = None
    _resume_pos = -1

    def __init__(
        self, *, config: DeskConfig, venue: Any, strategies: list[Strategy], feed: Any = None,
        journal: Journal | None = None, clock: Clock | None = None, mode: str = "paper",
        risk: RiskEngine | None = None, source_id: str = "",
        specs: dict[str, SymbolSpec] | None = None, equity_sample_ms: int = 15 * 60_000,
        keep_explanations: int = 2000, disabled: set[str] | frozenset[str] = frozenset(),
        control_path: Any = None,
    ) -> None:
        self.config = config
        self.venue = venue
        self.feed = feed
        self.journal = journal
        self.clock = clock or EventClock()
        self.mode = mode
        self.risk = risk or RiskEngine(config.risk)
        self.roster = Roster(list(strategies), disabled)
        self.strategies = self.roster.strategies
        self._strat = self.roster.states
        self.source_id = source_id
        self.specs = dict(specs or {})
        # Paper starts from the configured balance; a live start replaces both with the
        # account's wallet (``start``): paper.initial_balance is never used live.
        self.initial_balance = config.paper.initial_balance
        self.portfolio = Portfolio(self.initial_balance)
        self.book = self.portfolio.book
        self._positions = self.book.positions  # the same dict, bound for the hot path
        self.halted = False
        self.paused = False
        self.days = DayBook(config.risk)
        self.recent: deque[Explanation] = deque(maxlen=keep_explanations)
        self.equity_samples = EquityHistory()  # bounded: engine/equity_history.py
        self._sample_ms = equity_sample_ms
        self._last_equity_sample = 0
        self._next_sample = equity_sample_ms  # _last_sample + equity_sample_ms (properties)
        self.bars_seen = 0
        #: Events that are not bars; with ``bars_seen``, the events a backtest processed
        #: (counted here, not by ``enumerate`` in its loop: ~13 ns an event less).
        self.other_events_seen = 0
        self._bar_ts = 0  # the close time of the last bar seen (which bar a fill is in)
        #: Bars with a position, counted at the fills that open and close one (exposure.py).
        self.exposure = Exposure()
        self.on_explanation: Callable[[Explanation], None] | None = None
        self._control_path = control_path
        self._control: Any = None
        self.companions: list[Any] = []  # engine.companions: notifications, API, bot
        self._handlers: dict[int, list[Handler]] = {}
        self._bar_handlers: list[Handler] | None = None
        self._bar_one: Handler | None = None
        self._entry_gate = ""  # ``_gate`` (risk) and ``_journal_gate`` below, and their union
        self._journal_error = ""
        self._shut = ""
        #: Keys of the fills booked this session (and journaled for restored orders): a fill
        #: reported twice counts once, by its trade id.
        self._fills_seen: set[tuple[str, str]] = set()
        self._soon: asyncio.Task[None] | None = None
        self._stale_s: float | None = None
        self.reconciliation: Any = None  # engine.reconcile.Reconciliation on a live start
        #: False in backtests: nobody subscribes, so nothing is queued for announcement.
        self.publish = True
        self._pending: list[Record] = []
        self._outbox: list[Any] = []
        self._subs: set[Subscription] = set()
        self.orders = Orders(venue=venue, clock=self.clock, book=self.book, spec=self.spec,
                             cfg=config.risk, explain=self.explain,
                             record=self._pending_append if journal is not None else None)
        if self.risk.costs is None:
            self.risk.costs = venue_costs(venue, config.paper)
        self.orders.costs = self.risk.costs
        self._last_event_ts = 0
        self._last_rx_wall: float | None = None
        self._resume_cursor = -1
        self._started = False
        self._stopping = False
        self._estop_task: asyncio.Task[None] | None = None
        self._run_task: asyncio.Task[Any] | None = None
        self.feed_status = FeedStatus.CONNECTING
        self.venue.bind(self)
        # An EventClock (or one that keeps its observe and now): read inline on the hot paths.
        kind = type(self.clock)
        self._event_clock = self.clock if kind.observe is EventClock.observe \
            and kind.now is EventClock.now else None
        self._rebuild_handlers()

    balance = _portfolio("balance")
    fees_total = _portfolio("fees_total")
    funding_total = _portfolio("funding_total")
    trades = _portfolio("trades")

    # While a position is open every bar asks whether an equity sample is due: against the
    # next sample's time, kept by these setters (``ts - last >= every`` made an int per bar:
    # ~220 instructions more).
    @property
    def _last_sample(self) -> int:
        """When equity was last sampled (FillSide._sample_equity, a checkpoint's restore)."""
        return self._last_equity_sample

    @_last_sample.setter
    def _last_sample(self, ts: int) -> None:
        self._last_equity_sample = ts
        self._next_sample = ts + self._sample_ms

    @property
    def equity_sample_ms(self) -> int:
        """Equity is sampled at most this often while a position is open."""
        return self._sample_ms

    @equity_sample_ms.setter
    def equity_sample_ms(self, ms: int) -> None:
        self._sample_ms = ms
        self._next_sample = self._last_equity_sample + ms

    @property
    def bars_in_position(self) -> int:
        return self.exposure.bars("", self.bars_seen, bool(self._positions))

    @bars_in_position.setter
    def bars_in_position(self, value: int) -> None:  # a checkpoint restores it
        self.exposure.restore(value, self.bars_seen)

    def _pending_append(self, record: Record) -> None:
        self._pending.append(record)

    @property
    def stopping(self) -> bool:
        return self._stopping

    # Two entry gates, each a reason string ("" = open); the hot path reads their union
    # ``_shut`` (one attribute per event instead of two), kept by their setters.
    @property
    def _gate(self) -> str:
        """Why the risk gate is closed (halted, paused, day locked, stale, reconciliation)."""
        return self._entry_gate

    @_gate.setter
    def _gate(self, why: str) -> None:
        self._entry_gate = why
        self._shut = why or self._journal_error

    @property
    def _journal_gate(self) -> str:
        """Why the journal cannot be written ("" when healthy): a second entry gate (commit)."""
        return self._journal_error

    @_journal_gate.setter
    def _journal_gate(self, why: str) -> None:
        self._journal_error = why
        self._shut = self._entry_gate or why

    # -- public API ----------------------------------------------------------------------

    def now(self) -> int:
        return self.clock.now()

    def equity(self) -> Decimal:
        """``wallet() + unrealized()``; on a simulated venue read straight from the books
        (taken for every entry and equity sample of a backtest: flat, nothing is unrealized)."""
        venue, portfolio = self.venue, self.portfolio
        unrealized = portfolio.unrealized(getattr(venue, "last_price", _NO_PRICES)) \
            if self._positions else _ZERO
        if getattr(venue, "simulated", True):
            return portfolio.balance + unrealized
        return self.wallet() + unrealized

    def wallet(self) -> Decimal:
        """The wallet balance sizing and the header use: live, the exchange's own figure
        (kept current from ACCOUNT_UPDATE by the venue); paper, the desk's books."""
        if not getattr(self.venue, "simulated", True):
            live = getattr(self.venue, "balance", None)
            if live:
                return Decimal(live)
        return self.balance

    async def _account(self) -> None:
        """Live start: equity comes from the account, never from ``paper.initial_balance``."""
        bal = getattr(self.venue, "balance", None) or await self.venue.fetch_balance()
        self.initial_balance = self.balance = Decimal(bal)

    def unrealized(self) -> Decimal:
        return self.portfolio.unrealized(getattr(self.venue, "last_price", {}))

    def snapshot(self) -> DeskSnapshot:
        return desk_snapshot(self)

    # -- the hot path ----------------------------------------------------------------------

    def process(self, ev: MarketEvent) -> None:
        """One market event through venue, gate, strategies and risk (the hot path).

        Written for speed: no per-event allocation or call that can be spared, the gate a
        cached string, handlers pre-bound per event kind, the event clock moved inline.
        """
        ts = ev.ts
        clock = self._event_clock  # EventClock.observe inlined: a call is ~800 instructions
        if clock is None:
            self.clock.observe(ts)
        elif ts > clock.now_ms:
            clock.now_ms = ts
        self._last_event_ts = ts
        if ts >= self.days.next_roll:
            self._roll_day(ts)
        if type(ev) is Bar or ev.kind is _BAR:  # (the type test: cheaper than ev.kind in 3.11)
            # counted first: a fill this bar makes is in this bar (exposure)
            self.bars_seen += 1
            self._bar_ts = ts
            # The venue's method looked up each time: a bound method kept on the engine is
            # called through a LOAD_METHOD 3.11 cannot specialise (~200 instructions more).
            self.venue.on_market(ev)
            if ts >= self.orders.next_due:  # retries and the unprotected grace, on event time
                self.orders.tick(ts)
            if self._positions and ts >= self._next_sample:
                self._sample_equity(ts)
            one = self._bar_one
            if one is None:
                handlers = self._bar_handlers
            elif self._shut:
                return
            else:  # one strategy takes bars (most runs): the loop below without its iterator
                strat, fn, symbols, notes = one
                if symbols is not None and ev.symbol not in symbols:
                    return
                try:
                    sig = fn(ev)
                except Exception as exc:
                    self._strategy_failed(strat, exc)
                    return
                if notes:
                    self._drain_notes(strat)
                if sig is not None:
                    self._on_signal(strat, sig)
                return
        else:
            self.other_events_seen += 1
            self.venue.on_market(ev)
            if ts >= self.orders.next_due:
                self.orders.tick(ts)
            handlers = self._handlers.get(ev.kind)
        if self._shut or not handlers:
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
                if self._shut:  # (the journal's gate changes only between events)
                    return

    def _warm(self, ev: MarketEvent) -> None:
        """An event the journal already holds (after a restart): strategies whose state came
        back with the checkpoint skip it; only those without saved state are fed it."""
        self.clock.observe(ev.ts)
        cold = self._cold
        if cold is None:  # no checkpoint state at all: the old warm-up for everyone
            cold = self._handlers
        for _strat, fn, symbols, notes in cold.get(ev.kind) or ():
            if symbols is None or ev.symbol in symbols:
                with contextlib.suppress(Exception):
                    fn(ev)
                if notes:
                    notes.clear()  # explained before the restart already

    def spec(self, symbol: str) -> SymbolSpec:
        spec = self.specs.get(symbol)
        if spec is None:
            venue_spec = getattr(self.venue, "spec", None)
            spec = venue_spec(symbol) if venue_spec else spec_for(symbol)
            self.specs[symbol] = spec
        return spec

    def _strat_state(self, name: str) -> StratState:
        return self.roster.state(name)

    def _strategy_failed(self, strat: Strategy, exc: Exception) -> None:
        error = self.roster.failed(strat, exc)
        # One line a user reads (where it was raised is what a plugin's author needs first);
        # the whole traceback with --log-level debug.
        log.error("strategy %s failed: %s%s", strat.name, error, raised_at(exc))
        if type(exc) is not BadSignal:
            log.debug("strategy %s failed here:", strat.name, exc_info=exc)
        self._rebuild_handlers()
        self.explain(ExplanationKind.ERROR,
                     f"Strategy {strat.name} raised {error}; it is disabled (press its number "
                     "to re-enable after fixing it).", strategy=strat.name)

    def _rebuild_handlers(self) -> None:
        self._handlers = self.roster.rebuild(self)
        bar = self._bar_handlers = self._handlers.get(_BAR)  # bars are most events: no lookup
        # The one handler when one strategy takes bars: no len() and [0] per bar (~270
        # instructions); None for none or several (the loop).
        self._bar_one = bar[0] if bar is not None and len(bar) == 1 else None

    # -- journal commit --------------------------------------------------------------------

    async def commit(self, force: bool = False) -> None:
        """Write queued records, then announce them; never raises (engine/commit.py)."""
        await commit(self, force)

    def _checkpoint(self) -> dict[str, Any]:
        return checkpoint(self)

    def _restore(self, ck: dict[str, Any]) -> None:
        restore(self, ck)
