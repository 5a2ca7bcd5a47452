"""The risk rulebook: every rule is one small function returning a RuleResult with numbers.

Two checkpoints use these rules (and nothing else decides risk):
- ``gate_reason`` runs *before* strategies: a halted, paused or locked desk, or stale data,
  means strategies are not even asked.
- ``RiskEngine.vet`` runs on every entry Signal and returns a Decision: accepted with size
  and leverage, or refused by the first rule that fails, with its numbers.
Exits are never refused: reducing risk is always allowed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tapedesk.engine.config import PaperConfig, RiskConfig
from tapedesk.engine.events import Decision, RuleResult, Side, Signal, SignalKind
from tapedesk.engine.explanations import money, pct, price
from tapedesk.engine.symbols import SymbolSpec


@dataclass(slots=True)
class DayCounters:
    """Today's risk counters; persisted by the journal so a restart never resets them."""

    day: str
    trades: int = 0
    losses: int = 0
    realized_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    locked: bool = False
    lock_reason: str = ""


# -- the rules -------------------------------------------------------------------------
# A rule's message is built only when it refuses: passing rules are recorded by name, and
# formatting sentences for every vetted signal was a tenth of a backtest's time.


def rule_max_trades(day: DayCounters, cfg: RiskConfig) -> RuleResult:
    ok = day.trades < cfg.max_trades_per_day
    return RuleResult(
        "max_trades_per_day",
        ok,
        f"{day.trades} of {cfg.max_trades_per_day} trades taken today" if not ok else "",
        {"trades": day.trades, "max": cfg.max_trades_per_day},
    )


def rule_max_losses(day: DayCounters, cfg: RiskConfig) -> RuleResult:
    ok = day.losses < cfg.max_losing_trades_per_day
    return RuleResult(
        "max_losing_trades_per_day",
        ok,
        f"{day.losses} of {cfg.max_losing_trades_per_day} losing trades today" if not ok else "",
        {"losses": day.losses, "max": cfg.max_losing_trades_per_day},
    )


def rule_daily_loss_cap(day: DayCounters, cfg: RiskConfig) -> RuleResult:
    ok = day.realized_pnl > -cfg.daily_loss_cap
    return RuleResult(
        "daily_loss_cap",
        ok,
        f"day P&L {money(day.realized_pnl)} against a loss cap of {money(-cfg.daily_loss_cap)}"
        if not ok
        else "",
        {"pnl": str(day.realized_pnl), "cap": str(cfg.daily_loss_cap)},
    )


def rule_daily_profit_lock(day: DayCounters, cfg: RiskConfig) -> RuleResult:
    ok = day.realized_pnl < cfg.daily_profit_lock
    return RuleResult(
        "daily_profit_lock",
        ok,
        f"day P&L {money(day.realized_pnl)} against a profit lock of {money(cfg.daily_profit_lock)}"
        if not ok
        else "",
        {"pnl": str(day.realized_pnl), "lock": str(cfg.daily_profit_lock)},
    )


DAY_RULES = (rule_daily_loss_cap, rule_daily_profit_lock, rule_max_losses, rule_max_trades)


def day_lock_reason(day: DayCounters, cfg: RiskConfig) -> str:
    """Why the day is (now) locked, or "" while trading is allowed."""
    for rule in DAY_RULES:
        res = rule(day, cfg)
        if not res.passed:
            return f"{res.rule.replace('_', ' ')} reached: {res.message}"
    return ""


def gate_reason(
    *, halted: bool, paused: bool, day: DayCounters, stale_s: float | None, cfg: RiskConfig
) -> str:
    """The pre-strategy gate: "" lets strategies run, else the reason they are not asked."""
    if halted:
        return "desk halted (emergency stop): resume explicitly to trade again"
    if paused:
        return "desk paused: no new entries"
    if day.locked:
        return f"day locked: {day.lock_reason}"
    if stale_s is not None and stale_s > cfg.stale_after_s:
        return f"market data stale: last event {stale_s:.1f} s ago (limit {cfg.stale_after_s:g} s)"
    return ""


def rule_stop_side(sig: Signal) -> RuleResult:
    s = sig.side.sign
    ok = sig.stop_loss > 0 and (sig.entry - sig.stop_loss) * s > 0
    if ok and sig.take_profit:
        ok = (sig.take_profit - sig.entry) * s > 0
    return RuleResult(
        "stop_and_target_side",
        ok,
        f"stop {price(sig.stop_loss)} and target {price(sig.take_profit or 0)} must "
        f"be on the right sides of entry {price(sig.entry)}"
        if not ok
        else "",
        {"entry": sig.entry, "stop": sig.stop_loss, "target": sig.take_profit},
    )


def rule_stop_distance(sig: Signal, cfg: RiskConfig) -> RuleResult:
    dist = abs(sig.entry - sig.stop_loss) / sig.entry * 100.0 if sig.entry else 0.0
    # Compare at 0.1 bp resolution so 0.15 % computed as 0.1499999 is not refused.
    d = round(dist, 5)
    ok = cfg.min_stop_pct <= d <= cfg.max_stop_pct
    msg = (
        f"stop distance {pct(dist)} is outside {cfg.min_stop_pct:.2f}–{cfg.max_stop_pct:.2f} %"
        if not ok
        else ""
    )
    return RuleResult(
        "stop_distance_band",
        ok,
        msg,
        {"stop_pct": dist, "min": cfg.min_stop_pct, "max": cfg.max_stop_pct},
    )


def rule_stop_move(side: Side, new_stop: Decimal, last: Decimal | None,
                   current: Decimal | None) -> RuleResult:
    """A stop moved by the trader (engine.position_actions): on the protective side of the
    price now, and never looser than the stop it replaces (a stop only moves toward profit)."""
    below = "below" if side is Side.LONG else "above"
    if last is None:
        ok, msg = False, "no market price yet to check the stop against"
    elif (last - new_stop) * side.sign <= 0:
        ok, msg = False, (f"a {side.value} stop must be {below} the price: stop "
                          f"{price(new_stop)} vs price {price(last)}")
    elif current is not None and (new_stop - current) * side.sign < 0:
        ok, msg = False, (f"stop {price(new_stop)} would be looser than the stop "
                          f"{price(current)} already in place")
    else:
        ok, msg = True, ""
    return RuleResult("stop_move", ok, msg,
                      {"stop": str(new_stop), "price": str(last), "current": str(current)})


def rule_one_position(has_position: bool, has_pending: bool, symbol: str) -> RuleResult:
    if not (has_position or has_pending):  # a passing rule's message is never read
        return RuleResult("one_position_per_symbol", True, "", {})
    what = "a position is already open" if has_position else "an entry is already working"
    return RuleResult("one_position_per_symbol", False, f"{what} on {symbol}", {})


@dataclass(frozen=True, slots=True)
class Costs:
    """What a round trip costs besides the stop distance, as fractions of price.

    Both legs of a stop-out are taker fills (market entry, stop-market exit) and both slip.
    """

    taker_fee: Decimal = Decimal(0)
    slippage: Decimal = Decimal(0)

    @classmethod
    def from_bps(cls, taker_fee_bps: float, slippage_bps: float) -> Costs:
        bps = Decimal("0.0001")
        return cls(Decimal(str(taker_fee_bps)) * bps, Decimal(str(slippage_bps)) * bps)


def venue_costs(venue: Any, paper: PaperConfig) -> Costs:
    """Fees and slippage the sizing counts: the venue's own rates where it knows them (the
    paper venue simulates exactly these; a live venue may read commissionRate), else the
    configured taker fee and slippage (live fills slip too; the paper figure is the guess)."""
    fee = getattr(venue, "taker_fee", None)
    slip = getattr(venue, "slippage", None)
    costs = Costs.from_bps(paper.taker_fee_bps, paper.slippage_bps)
    return Costs(
        Decimal(str(fee)) if fee is not None else costs.taker_fee,
        Decimal(str(slip)) if slip is not None else costs.slippage,
    )


@dataclass(frozen=True, slots=True)
class UnitLoss:
    """The loss per unit of a stop-out: distance + both fees + slippage on both legs."""

    distance: Decimal
    fees: Decimal
    slippage: Decimal

    @property
    def total(self) -> Decimal:
        return self.distance + self.fees + self.slippage


def unit_loss(entry: Decimal, stop: Decimal, costs: Costs) -> UnitLoss:
    """One rule, used for sizing and for a position's R: what a stop-out loses per unit."""
    return UnitLoss(
        abs(entry - stop), (entry + stop) * costs.taker_fee, (entry + stop) * costs.slippage
    )


@dataclass(slots=True)
class Sizing:
    qty: Decimal
    leverage: int
    risk_amount: Decimal
    notional: Decimal
    capped_by_leverage: bool
    fees: Decimal = Decimal(0)  # the part of ``risk_amount`` that is fees and slippage


def position_size(
    equity: Decimal,
    entry: float,
    stop: float,
    spec: SymbolSpec,
    cfg: RiskConfig,
    costs: Costs = Costs(),
) -> Sizing:
    """size = equity × risk ÷ (stop distance + entry fee + exit fee + slippage, per unit).

    Counting the costs is what makes a stop-out lose the configured 0.3 %: at a 0.25 % stop
    two taker fees alone are ~40 % of the distance. Rounded down to the step; leverage is
    the smallest whole number that carries the notional on the equity, and if even the cap
    cannot, the size is cut to what the cap allows (never more risk than asked).
    """
    target = equity * Decimal(str(cfg.risk_per_trade_pct)) / 100
    px = Decimal(str(entry))
    # In Decimal: 100.0 - 99.8 is not 0.2 in float.
    loss = unit_loss(px, Decimal(str(stop)), costs)
    qty = spec.round_qty(target / loss.total) if loss.distance > 0 else Decimal(0)
    capped = False
    max_notional = equity * cfg.max_leverage
    if qty * px > max_notional:
        qty = spec.round_qty(max_notional / px)
        capped = True
    notional = qty * px
    leverage = max(1, math.ceil(notional / equity)) if equity > 0 else cfg.max_leverage
    return Sizing(qty, min(leverage, cfg.max_leverage), qty * loss.total, notional, capped,
                  qty * (loss.fees + loss.slippage))


def rule_exchange_minimums(qty: Decimal, entry: float | Decimal, spec: SymbolSpec) -> RuleResult:
    """``entry`` as a Decimal already (``vet``'s own): not converted again."""
    problem = spec.check_order(qty, entry if type(entry) is Decimal else Decimal(str(entry)))
    return RuleResult(
        "exchange_minimums",
        problem is None,
        problem or "",
        {"qty": str(qty), "min_qty": str(spec.min_qty), "min_notional": str(spec.min_notional)},
    )


def rule_margin_available(notional: Decimal, leverage: int, available: Decimal) -> RuleResult:
    need = notional / leverage if leverage else notional
    ok = need <= available
    return RuleResult(
        "margin_available",
        ok,
        f"needs {money(need)} isolated margin, {money(available)} available" if not ok else "",
        {"need": str(need), "available": str(available)},
    )


class RiskEngine:
    """Vets signals against the rulebook; sizes the accepted ones."""

    def __init__(
        self,
        cfg: RiskConfig,
        *,
        enabled: bool = True,
        fixed_qty: Decimal | None = None,
        costs: Costs | None = None,
    ) -> None:
        self.cfg = cfg
        #: None until someone says: the engine then fills in its venue's fees and slippage.
        self.costs = costs
        self.enabled = enabled  # False only for research backtests (--no-risk), labelled
        self.fixed_qty = fixed_qty  # --fixed-qty: bypass sizing, labelled
        #: symbol -> (spec, fixed_qty, rounded): --fixed-qty rounded once per symbol, not
        #: for every entry (valid while the same spec and fixed_qty objects are asked about).
        self._fixed_rounded: dict[str, tuple[SymbolSpec, Decimal, Decimal]] = {}

    def vet(
        self,
        sig: Signal,
        *,
        day: DayCounters,
        equity: Decimal,
        available: Decimal,
        spec: SymbolSpec,
        has_position: bool,
        has_pending: bool,
        held_by: str = "",
        reentry_block: str = "",
    ) -> Decision:
        """``held_by``: the strategy whose position is open on the symbol ("" if none/unknown);
        ``reentry_block``: why this entry would re-open what the trader just closed by hand
        (engine.position_actions), "" when it would not."""
        if sig.kind is SignalKind.EXIT:
            if held_by and held_by != sig.strategy:  # one strategy never closes another's trade
                return Decision(sig, False, rule="exit_not_its_position",
                                text=f"the open {sig.symbol} position is {held_by}'s; a "
                                "strategy exits only its own")
            return Decision(sig, True, rule="exit", text="exits are always allowed")
        cfg = self.cfg
        # Only a --no-risk research run takes an entry without a stop (ema_cross stop_pct=0).
        stopless = not self.enabled and not sig.stop_loss
        passed: list[str] = []
        numbers: dict[str, object] = {}
        for res in self._entry_checks(sig, day, has_position, has_pending, reentry_block,
                                      stopless):
            numbers.update(res.numbers)
            if not res.passed:
                return Decision(
                    sig, False, rule=res.rule, text=res.message, passed=passed, numbers=numbers
                )
            passed.append(res.rule)
        entry: float | Decimal = sig.entry
        if self.fixed_qty is not None:
            qty = self._fixed_qty_for(spec)
            entry = px = Decimal(str(sig.entry))  # the same Decimal the minimums check makes
            notional = qty * px
            lev = max(1, min(cfg.max_leverage, math.ceil(notional / equity))) if equity > 0 else 1
            if stopless:
                size = Sizing(qty, lev, Decimal(0), notional, False)
            else:
                loss = unit_loss(px, Decimal(str(sig.stop_loss)), self.costs or Costs())
                size = Sizing(qty, lev, qty * loss.total, notional, False,
                              qty * (loss.fees + loss.slippage))
        elif stopless:
            return Decision(sig, False, rule="no_stop_to_size", passed=passed,
                            text="an entry without a stop cannot be sized by risk: give --fixed-qty")
        else:
            size = position_size(
                equity, sig.entry, sig.stop_loss, spec, cfg, self.costs or Costs()
            )
        numbers.update(
            risk_amount=size.risk_amount,
            risk_costs=size.fees,
            notional=size.notional,
            capped_by_leverage=size.capped_by_leverage,
            max_leverage=cfg.max_leverage,
            stop_pct=abs(sig.entry - sig.stop_loss) / sig.entry * 100.0 if not stopless else 0.0,
        )
        # The two sizing rules, written out (no generator: this runs for every entry); the
        # margin rule is worked out only once the minimums passed.
        res = rule_exchange_minimums(size.qty, entry, spec)
        if res.passed:
            numbers.update(res.numbers)
            passed.append(res.rule)
            res = rule_margin_available(size.notional, size.leverage, available)
        numbers.update(res.numbers)
        if not res.passed:
            return Decision(
                sig, False, rule=res.rule, text=res.message, passed=passed, numbers=numbers
            )
        passed.append(res.rule)
        return Decision(
            sig,
            True,
            qty=size.qty,
            leverage=size.leverage,
            rule="accepted",
            text="all rules passed",
            passed=passed,
            numbers=numbers,
        )

    def _fixed_qty_for(self, spec: SymbolSpec) -> Decimal:
        """``fixed_qty`` rounded to ``spec``'s lot step (one rule: ``spec.round_qty``)."""
        fixed = self.fixed_qty
        assert fixed is not None
        kept = self._fixed_rounded.get(spec.symbol)
        if kept is not None and kept[0] is spec and kept[1] is fixed:
            return kept[2]
        qty = spec.round_qty(fixed)
        self._fixed_rounded[spec.symbol] = (spec, fixed, qty)
        return qty

    def _entry_checks(self, sig: Signal, day: DayCounters, has_position: bool,
                      has_pending: bool, reentry_block: str,
                      stopless: bool) -> Iterator[RuleResult]:
        """The pre-sizing rules in their order, each evaluated only if all before it passed
        (a refused entry stops at its rule: the rest need not be worked out)."""
        yield rule_one_position(has_position, has_pending, sig.symbol)
        if reentry_block:
            yield RuleResult("after_manual_close", False, reentry_block, {})
        if not stopless:
            yield rule_stop_side(sig)
        if self.enabled:
            cfg = self.cfg
            for rule in DAY_RULES:
                yield rule(day, cfg)
            yield rule_stop_distance(sig, cfg)
