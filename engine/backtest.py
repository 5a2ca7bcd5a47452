"""Backtests: a replay of events through the very same Engine, paper venue and risk rules.

This module builds an Engine with a PaperVenue and an event clock, feeds it events
synchronously (no journal, no awaits per event: that is where the speed comes from), and
computes metrics. It has no trading behaviour of its own: ``--no-risk`` (no day lock, a
stop-less entry taken with ``--fixed-qty`` and given no stop order) is the risk engine's
``enabled=False`` as the Engine, the risk rules and the order owner read it — labelled.
``--no-margin-check`` gives the risk engine and the paper venue unlimited margin (labelled);
entries refused for margin are counted and said in every run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import chain, islice
from sys import getrefcount
from typing import Any

from tapedesk.engine.clock import EventClock
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import (
    Bar,
    Explanation,
    MarketEvent,
    OrderRole,
    RoundTrip,
)
from tapedesk.engine.indented_json import Stream
from tapedesk.engine.metrics import Metrics, compute_metrics
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.risk import (
    RiskEngine,
)
from tapedesk.engine.strategy import Strategy
from tapedesk.engine.trade_json import _trade_chunks, _trade_texts
from tapedesk.engine.trade_json import trade_json as trade_json  # the old import path
from tapedesk.engine.trade_log import TradeLog

MARGIN_RULE = "margin_available"
PROGRESS_EVERY = 16_384  # events between two progress callbacks


class BacktestRisk(RiskEngine):
    """The desk's RiskEngine, counting refusals by rule so a run can say how many it lost.

    ``margin_check=False`` (``--no-margin-check``) vets every entry as if the margin
    available were unlimited: the one margin rule stays the risk engine's, only its input
    changes."""

    # RiskEngine itself counts refusals (``refused``) and takes ``margin_check``.

    def margin_line(self) -> str:
        """Said in every run, so a margin-starved result cannot pass unnoticed."""
        n = self.refused.get(MARGIN_RULE, 0)
        if not self.margin_check:
            return "entries refused for margin: 0 (--no-margin-check)"
        return f"entries refused for margin: {n}"

    def refused_line(self) -> str:
        """``refused entries: 12 (margin_available 12)``, or "" when none were refused."""
        if not self.refused:
            return ""
        parts = ", ".join(f"{rule} {n}" for rule, n in sorted(self.refused.items()))
        hint = (
            "; margin: a larger --initial-balance or --no-margin-check lifts it"
            if MARGIN_RULE in self.refused
            else ""
        )
        return f"REFUSED ENTRIES: {sum(self.refused.values())} ({parts}{hint})"


class BacktestVenue(PaperVenue):
    """The paper venue of a backtest: counts the entries it rejected for margin, and with
    ``margin_check=False`` has unlimited margin — it never rejects an entry for margin and
    never liquidates (isolated margin that can always be topped up)."""

    def __init__(self, *args: Any, margin_check: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.margin_check = margin_check
        self.margin_rejected = 0
        if not margin_check:
            self.liquidates = False  # no liquidation level in the trigger bands either
            self._check_liquidation = _never  # type: ignore[method-assign]

    def _short_of_margin(self, need: Any) -> str:
        if not self.margin_check:
            return ""
        self.margin_rejected += 1
        return super()._short_of_margin(need)


def _never(*_args: Any) -> None:
    return None


@dataclass
class BacktestResult:
    trades: Sequence[RoundTrip]  # a run's: a TradeLog (compact, rebuilt when read)
    metrics: Metrics
    equity: list[tuple[int, float]]
    explanations: list[Explanation]
    labels: list[str]
    per_strategy: dict[str, Metrics] = field(default_factory=dict)
    events: int = 0
    fills: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    margin_check: bool = True

    def to_json(self) -> dict[str, Any]:
        """The result as one JSON-ready dict (the trades as a list of dicts)."""
        doc = self.json_doc()
        doc["trades"] = doc["trades"].list()
        return doc

    def json_doc(self) -> dict[str, Any]:
        """``to_json`` with the trades as an ``indented_json.Stream``: ``indented_json.dump``
        writes them a chunk at a time (a run's trades as dicts were ~1.5 KiB each)."""
        trades = self.trades
        return {
            "labels": self.labels,
            "fills": self.fills,
            "margin_check": self.margin_check,
            "refused_entries": self.refused,
            "refused_for_margin": self.refused.get(MARGIN_RULE, 0),
            "metrics": self.metrics.to_dict(),
            "per_strategy": {k: m.to_dict() for k, m in self.per_strategy.items()},
            "trades": Stream(len(trades), lambda: _trade_chunks(trades),
                             lambda pad, step, enc: _trade_texts(trades, pad, step, enc)),
        }


def build_backtest_engine(
    strategies: list[Strategy],
    config: DeskConfig,
    *,
    fill_at: str | None = None,
    fee_bps: float | None = None,
    slippage_bps: float | None = None,
    funding_bps: float | None = None,
    fixed_qty: Decimal | None = None,
    no_risk: bool = False,
    initial_balance: Decimal | None = None,
    latency_ms: int | None = None,
    margin_check: bool = True,
    keep_explanations: int = 2000,
) -> tuple[Engine, list[str]]:
    """An Engine wired for a backtest, and the labels that say what was changed.
    ``keep_explanations``: how many of the last explanation lines the result keeps (the
    command reads none: 0 lets each line go while its objects are still in the cache)."""
    paper = config.paper.model_copy()
    labels: list[str] = []
    if initial_balance is not None:
        paper.initial_balance = Decimal(initial_balance)
    if fee_bps is not None:
        paper.taker_fee_bps = paper.maker_fee_bps = fee_bps
        labels.append(f"fees {fee_bps:g} bps maker and taker")
    if slippage_bps is not None:
        paper.slippage_bps = slippage_bps
    if funding_bps is not None:
        paper.assumed_funding_bps_8h = funding_bps
    mode = fill_at or paper.fill_at
    lat = paper.latency_ms if latency_ms is None else latency_ms
    if mode == "close":
        lat = 0  # "fill at the signal bar's close" means no delay, by definition
    cfg = config.model_copy(update={"paper": paper})
    venue = BacktestVenue(
        paper.initial_balance,
        margin_check=margin_check,
        maker_fee_bps=paper.maker_fee_bps,
        taker_fee_bps=paper.taker_fee_bps,
        slippage_bps=paper.slippage_bps,
        latency_ms=lat,
        fill_at=mode,
        assumed_funding_bps_8h=paper.assumed_funding_bps_8h,
    )
    if fixed_qty is not None:
        labels.append(f"FIXED QTY {fixed_qty} per trade (risk sizing bypassed)")
    if no_risk:
        labels.append("NO RISK RULES (research only: day caps and stop band not applied)")
        labels.append("no day lock; entries without a stop taken with --fixed-qty")
    if not margin_check:
        labels.append("NO MARGIN CHECK (research only: unlimited margin, entries never "
                      "refused for margin, no liquidation)")
    risk = BacktestRisk(cfg.risk, enabled=not no_risk, fixed_qty=fixed_qty,
                        margin_check=margin_check)
    engine = Engine(
        config=cfg,
        venue=venue,
        strategies=strategies,
        clock=EventClock(),
        mode="backtest",
        keep_explanations=keep_explanations,
        risk=risk,
        equity_sample_ms=15 * 60_000,
    )
    labels.append(
        f"fills: {mode}, slippage {paper.slippage_bps:g} bps, latency {lat} ms, "
        f"fees {paper.maker_fee_bps:g}/{paper.taker_fee_bps:g} bps maker/taker"
    )
    if paper.assumed_funding_bps_8h:
        labels.append(
            f"funding: mark-price data if present, else {paper.assumed_funding_bps_8h:g}"
            " bps per 8 h"
        )
    else:
        labels.append("funding: mark-price data only (assumed rate off)")
    return engine, labels


def run_backtest(
    events: Iterable[MarketEvent],
    strategies: list[Strategy],
    config: DeskConfig | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> BacktestResult:
    """Run ``events`` through strategies + risk + paper venue; close what is open at the end."""
    config = config or DeskConfig()
    engine, labels = build_backtest_engine(strategies, config, **options)
    margin_check = options.get("margin_check", True)
    _start_sync(engine)
    engine.trades = TradeLog()  # compact: a run may close trades without end
    engine.lazy_explanations = True  # worded at the end: word_explanations
    engine.publish = False
    memory = FillMemory(engine)
    n = 0
    first_ts: int | None = None  # the run's period starts here (CAGR), not at its first trade
    parts = getattr(events, "parts", None)  # feeds.files.Events: a binary copy's bars are
    parts = parts() if parts is not None else None  # made here (``_run_columns``)
    for part in (events,) if parts is None else parts:
        take = getattr(part, "column_blocks", None)  # feeds.bar_copy.CopyBars
        blocks = take() if take is not None else None
        if blocks is not None:
            symbol: str = getattr(part, "symbol")  # noqa: B009 (CopyBars, not typed here)
            n, first = _run_columns(engine, symbol, blocks, memory, progress)
        else:
            n, first = _run_events(engine, part, memory, progress, n)
        if first_ts is None:
            first_ts = first
    if progress is not None and not n:
        progress(n)
    _close_at_end(engine)
    engine.word_explanations()
    risk, venue = engine.risk, engine.venue
    refused = dict(risk.refused) if isinstance(risk, BacktestRisk) else {}
    if isinstance(venue, BacktestVenue) and venue.margin_rejected:  # risk passed, venue not
        refused[MARGIN_RULE] = refused.get(MARGIN_RULE, 0) + venue.margin_rejected
    if isinstance(risk, BacktestRisk):
        risk.refused = refused
        if risk.refused_line():
            labels.append(risk.refused_line())
        labels.append(risk.margin_line())
    for s in strategies:  # a strategy that raised, or signalled against the plugin rules
        error = engine.roster.state(s.name).error
        if error:
            labels.append(f"STRATEGY {s.name} DISABLED: {error}")
    initial = float(engine.initial_balance)
    bars = engine.bars_seen
    period = (first_ts, engine.clock.now()) if first_ts is not None else None
    metrics = replace(compute_metrics(
        engine.trades, engine.equity_samples, initial, engine.bars_in_position, bars, period
    ), fills=memory.fills())
    per = {}
    names = {s.name for s in strategies}  # a strategy without a trade gets its row too
    trades = engine.trades
    if len(strategies) > 1:
        for name in sorted(names):
            mine = trades.columns_of(name)
            # Its own equity at each exit (closed-trade curve): drawdown per strategy.
            curve = mine.closed_curve(initial)
            exposed = engine.exposure.bars(name, bars, False)  # all closed at the end
            per[name] = compute_metrics(mine, curve, initial, exposed, bars, period)
    return BacktestResult(
        engine.trades, metrics, engine.equity_samples, list(engine.recent), labels, per, n,
        fills=metrics.fills or 0, refused=refused, margin_check=margin_check,
    )


def _run_events(engine: Engine, events: Iterable[MarketEvent], memory: FillMemory,
                progress: Callable[[int], None] | None, n: int) -> tuple[int, int | None]:
    """``events`` through ``engine.process``: (events processed in all, the first's time)."""
    process = engine.process
    first_ts: int | None = None
    if not isinstance(events, Sized):
        events = iter(events)
        first = next(events, None)
        if first is not None:
            first_ts = first.ts
            events = chain((first,), events)
    elif len(events):
        first_ts = next(iter(events)).ts
    # A plain loop over slices of PROGRESS_EVERY events: Python 3.11 calls ``process`` from
    # bytecode more cheaply than from C (map() measured +220 instructions per event), and
    # no test per event; between two slices, progress and the fill memory's bound. The
    # engine counts the events (bars and the rest): an ``enumerate`` here made an int and
    # a tuple per event.
    events = iter(events)
    while True:
        for ev in islice(events, PROGRESS_EVERY):
            process(ev)
        done = engine.bars_seen + engine.other_events_seen
        if done == n:
            break
        n = done
        memory.bound()
        if progress is not None:
            progress(n)
    return n, first_ts


def _run_columns(engine: Engine, symbol: str, blocks: Iterable[Sequence[Any]],
                 memory: FillMemory, progress: Callable[[int], None] | None,
                 ) -> tuple[int, int | None]:
    """A binary copy's bars (``bar_copy.CopyBars.column_blocks``: open_ms, close_ms, open,
    high, low, close, volume) made here, one by one, and passed to ``engine.process``;
    progress and the fill memory's bound after each block (BLOCK = PROGRESS_EVERY rows, the
    cadence of ``_run_events``). Returns what ``_run_events`` does.

    Each Bar's eight slots are set by this loop: ``map(Bar, ...)`` (a C call of
    ``Bar.__init__``) cost ~630 instructions a bar more. And a bar nobody kept once
    ``process`` returned (its reference count back to this loop's own) is filled again for
    the next one instead of being freed and allocated anew (~950 less): no one can tell, as
    no one else holds it (a Bar takes no weak references). A bar somebody kept stays as it
    was: the next one is a new Bar.
    """
    n = engine.bars_seen + engine.other_events_seen
    first_ts: int | None = None
    process = engine.process
    new = object.__new__
    ev = new(Bar)
    ev.symbol = symbol
    alone = getrefcount(ev)  # this loop's own references (2 on CPython 3.11)
    for open_ms, close_ms, opens, highs, lows, closes, volumes in blocks:
        if first_ts is None and len(close_ms):
            first_ts = close_ms[0]
        for open_ts, ts, o, h, lo, c, v in zip(open_ms, close_ms, opens, highs, lows, closes,
                                               volumes, strict=True):
            if getrefcount(ev) != alone:  # kept (a strategy's list of bars): a new one
                ev = new(Bar)
                ev.symbol = symbol
            ev.open_ts = open_ts  # the slots of Bar.__init__ (checked by
            ev.ts = ts  # tests/engine_units/test_backtest_columns.py)
            ev.open = o
            ev.high = h
            ev.low = lo
            ev.close = c
            ev.volume = v
            process(ev)
        n = engine.bars_seen + engine.other_events_seen
        memory.bound()
        if progress is not None:
            progress(n)
    return n, first_ts


class FillMemory:
    """What a backtest's engine remembers of past fills, kept bounded.

    The engine drops a fill it has already booked (``FillSide.on_fill``, keyed by
    ``records.fill_key``), and its position books count the positions each order opened
    (``PositionBook.opening_id``, for an order filled in parts). Live, both must remember
    every order: the exchange may report a fill twice (user stream and REST, or again
    after a restart), and orders fill in parts. In a backtest the paper venue fills each
    order whole, in one fill with a fresh trade id (``P1``, ``P2``, ...), reported once,
    synchronously; there is no second source and no restart. So between two slices of
    events, once more than ``KEEP`` are held, both are emptied: the rules stay the same
    code and still apply to every fill since (a repeat within the slice is still dropped),
    and memory stays bounded (every key kept was ~250 bytes a fill: ~60 MiB for 260,000).
    """

    KEEP = 4096

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.forgotten = 0  # fill keys let go so far (still counted in ``fills``)

    def bound(self) -> None:
        seen = self.engine._fills_seen
        if len(seen) > self.KEEP:
            self.forgotten += len(seen)
            seen.clear()
        venue_book = getattr(self.engine.venue, "book", None)
        for book in (self.engine.book, venue_book):
            opened = getattr(book, "_opened", None)
            if opened is not None and len(opened) > self.KEEP:
                opened.clear()

    def fills(self) -> int:
        """Fills booked in the run: the keys let go and the keys held."""
        return self.forgotten + len(self.engine._fills_seen)


def _start_sync(engine: Engine) -> None:
    """A backtest engine has no journal and a paper venue: starting it does no I/O."""
    engine._rebuild_handlers()


def _close_at_end(engine: Engine) -> None:
    """Close any open position at the last price so every trade is counted (labelled)."""
    for pos in list(engine.book.positions.values()):
        engine.orders.cancel_protection(pos.symbol)
        engine.close_position(pos, OrderRole.FLATTEN, "end of data")
    if engine.equity_samples:
        engine._sample_equity(engine.clock.now())
