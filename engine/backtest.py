"""Backtests: a replay of events through the very same Engine, paper venue and risk rules.

This module builds an Engine with a PaperVenue and an event clock, feeds it events
synchronously (no journal, no awaits per event: that is where the speed comes from), and
computes metrics. The only trading behaviour of its own is research-only and labelled:
``--no-risk`` runs use ``ResearchEngine`` (no day lock; a stop-less entry, vetted by
risk.py's own position/minimums/margin rules, gets no stop order) until Engine does this.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tapedesk.engine.clock import EventClock
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import (
    Decision,
    Explanation,
    Fill,
    MarketEvent,
    OrderRole,
    RoundTrip,
    Signal,
    SignalKind,
)
from tapedesk.engine.metrics import Metrics, compute_metrics
from tapedesk.engine.orders import Orders
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.positions import FillEffect
from tapedesk.engine.risk import (
    RiskEngine,
    Sizing,
    rule_exchange_minimums,
    rule_margin_available,
    rule_one_position,
)
from tapedesk.engine.strategy import Strategy


class BacktestRisk(RiskEngine):
    """The desk's RiskEngine, counting refusals by rule so a run can say how many it lost.

    Under ``--no-risk`` a stop-less entry (``ema_cross stop_pct=0``) is vetted here by the
    rules that still apply without a stop — one position per symbol, exchange minimums and
    margin — because ``RiskEngine.vet`` always asks for a stop on the right side. Sizing
    such an entry needs ``--fixed-qty`` (there is no stop distance to size from).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused: dict[str, int] = {}

    def vet(self, sig: Signal, **kw: Any) -> Decision:  # type: ignore[override]
        if self.enabled or sig.stop_loss or sig.kind is SignalKind.EXIT:
            dec = super().vet(sig, **kw)
        else:
            dec = self._vet_stopless(sig, **kw)
        if not dec.accepted:
            self.refused[dec.rule] = self.refused.get(dec.rule, 0) + 1
        return dec

    def _vet_stopless(self, sig: Signal, **kw: Any) -> Decision:
        res = rule_one_position(kw["has_position"], kw["has_pending"], sig.symbol)
        if not res.passed:
            return Decision(sig, False, rule=res.rule, text=res.message)
        if self.fixed_qty is None:
            return Decision(
                sig, False, rule="no_stop_to_size",
                text="an entry without a stop cannot be sized by risk: give --fixed-qty",
            )
        spec, equity = kw["spec"], kw["equity"]
        qty = spec.round_qty(self.fixed_qty)
        notional = qty * Decimal(str(sig.entry))
        lev = max(1, min(self.cfg.max_leverage, math.ceil(notional / equity))) if equity > 0 else 1
        size = Sizing(qty, lev, Decimal(0), notional, False)
        for res in (
            rule_exchange_minimums(size.qty, sig.entry, spec),
            rule_margin_available(size.notional, size.leverage, kw["available"]),
        ):
            if not res.passed:
                return Decision(sig, False, rule=res.rule, text=res.message, numbers=res.numbers)
        return Decision(
            sig, True, qty=qty, leverage=lev, rule="accepted",
            text="no-risk research run: position, minimums and margin only",
        )

    def refused_line(self) -> str:
        """``refused entries: 12 (margin_available 12)``, or "" when none were refused."""
        if not self.refused:
            return ""
        parts = ", ".join(f"{rule} {n}" for rule, n in sorted(self.refused.items()))
        hint = (
            "; margin: a larger --initial-balance lifts it"
            if "margin_available" in self.refused
            else ""
        )
        return f"REFUSED ENTRIES: {sum(self.refused.values())} ({parts}{hint})"


class StoplessOrders(Orders):
    """The order owner of a ``--no-risk`` run, for entries planned without a stop.

    A plan whose stop is 0 (``ema_cross stop_pct=0``) gets no protective orders and no
    unprotected-grace flatten: the research run asked for no stop. Every other plan is
    protected exactly as ``Orders`` does it.
    """

    def _stopless(self, symbol: str) -> bool:
        plan = self.plans.get(symbol)
        return plan is not None and not plan.stop and plan.target is None

    def protect(self, symbol: str) -> None:
        if not self._stopless(symbol):
            super().protect(symbol)

    def after_fill(self, fill: Fill, effect: FillEffect) -> None:
        stopless = self._stopless(fill.symbol)
        super().after_fill(fill, effect)
        pos = self.book.get(fill.symbol)
        if stopless and pos is not None:
            pos.risk_amount = Decimal(0)  # no stop, no risk amount: R multiples are n/a

    def _recheck(self, symbol: str) -> None:
        if self.book.get(symbol) is not None and self._stopless(symbol):
            self.unprotected_since.pop(symbol, None)
            self._schedule()
            return
        super()._recheck(symbol)


class ResearchEngine(Engine):
    """The Engine for ``--no-risk`` runs: no day lock, and no stop order for a stop-less entry.

    Both belong in ``Engine`` itself (the lead moves them there: ``_check_day_lock`` returning
    at once when ``risk.enabled`` is False, and the order owner placing nothing for a plan
    without a stop); until then this subclass keeps the research path honest without
    touching the live engine. Nothing else differs.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.orders.__class__ = StoplessOrders  # same state, two research-only overrides

    def _check_day_lock(self) -> None:
        return None  # --no-risk: no day caps, so the day never locks


@dataclass
class BacktestResult:
    trades: list[RoundTrip]
    metrics: Metrics
    equity: list[tuple[int, float]]
    explanations: list[Explanation]
    labels: list[str]
    per_strategy: dict[str, Metrics] = field(default_factory=dict)
    events: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "metrics": self.metrics.to_dict(),
            "per_strategy": {k: m.to_dict() for k, m in self.per_strategy.items()},
            "trades": [trade_json(t) for t in self.trades],
        }


def trade_json(t: RoundTrip) -> dict[str, Any]:
    from tapedesk.engine.clock import iso

    return {
        "symbol": t.symbol,
        "side": str(t.side),
        "qty": str(t.qty),
        "entry_time": iso(t.entry_ts),
        "exit_time": iso(t.exit_ts),
        "entry_ts": t.entry_ts,
        "exit_ts": t.exit_ts,
        "entry_price": str(t.entry_price),
        "exit_price": str(t.exit_price),
        "gross_pnl": str(t.gross_pnl),
        "fees": str(t.fees),
        "funding": str(t.funding),
        "pnl": str(t.pnl),
        "r": t.r_multiple,
        "strategy": t.strategy,
        "reason": t.reason,
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
) -> tuple[Engine, list[str]]:
    """An Engine wired for a backtest, and the labels that say what was changed."""
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
    venue = PaperVenue(
        paper.initial_balance,
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
    risk = BacktestRisk(cfg.risk, enabled=not no_risk, fixed_qty=fixed_qty)
    engine = (ResearchEngine if no_risk else Engine)(
        config=cfg,
        venue=venue,
        strategies=strategies,
        clock=EventClock(),
        mode="backtest",
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
    _start_sync(engine)
    engine.publish = False
    process = engine.process
    n = 0
    if progress is None and isinstance(events, Sized):
        for ev in events:
            process(ev)
        n = len(events)
    else:
        for n, ev in enumerate(events, 1):
            process(ev)
            if progress is not None and not n & 0x3FFF:
                progress(n)
        if progress is not None:
            progress(n)
    _close_at_end(engine)
    if isinstance(engine.risk, BacktestRisk) and engine.risk.refused_line():
        labels.append(engine.risk.refused_line())
    initial = float(engine.initial_balance)
    metrics = compute_metrics(
        engine.trades, engine.equity_samples, initial, engine.bars_in_position, engine.bars_seen
    )
    per = {}
    names = {s.name for s in strategies}  # a strategy without a trade gets its row too
    if len(strategies) > 1:
        for name in sorted(names):
            mine = [t for t in engine.trades if t.strategy == name]
            # Its own equity at each exit (closed-trade curve): drawdown per strategy.
            curve, eq = [], initial
            for t in mine:
                eq += float(t.pnl)
                curve.append((t.exit_ts, eq))
            per[name] = compute_metrics(mine, curve, initial, 0, engine.bars_seen)
    return BacktestResult(
        engine.trades, metrics, engine.equity_samples, list(engine.recent), labels, per, n
    )


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
