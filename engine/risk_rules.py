"""The risk rulebook's rules: each one a small function returning a RuleResult with numbers.

``RiskEngine`` (engine/risk.py) walks them for every entry signal and ``gate_reason`` runs
before strategies; the day book and the trader's stop moves use them too. Split from
engine/risk.py by what it holds: the rules here, the engine that applies them there.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import RuleResult, Side, Signal
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


def stop_side_ok(sig: Signal) -> bool:
    """``rule_stop_side``'s verdict alone: the risk engine asks it of every entry and makes
    the RuleResult (a new object, its message) only for a refusal."""
    entry, stop, target = sig.entry, sig.stop_loss, sig.take_profit  # read once: every entry
    s = sig.side.sign
    ok = stop > 0 and (entry - stop) * s > 0
    if ok and target:
        ok = (target - entry) * s > 0
    return ok


def stop_side_numbers(sig: Signal) -> dict[str, object]:
    return {"entry": sig.entry, "stop": sig.stop_loss, "target": sig.take_profit}


def rule_stop_side(sig: Signal) -> RuleResult:
    ok = stop_side_ok(sig)
    return RuleResult(
        "stop_and_target_side",
        ok,
        f"stop {price(sig.stop_loss)} and target {price(sig.take_profit or 0)} must "
        f"be on the right sides of entry {price(sig.entry)}"
        if not ok
        else "",
        stop_side_numbers(sig),
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


_ONE_POSITION_PASSED = RuleResult("one_position_per_symbol", True, "", {})  # never changed


def rule_one_position(has_position: bool, has_pending: bool, symbol: str) -> RuleResult:
    if not (has_position or has_pending):  # the same answer every time: made once
        return _ONE_POSITION_PASSED
    what = "a position is already open" if has_position else "an entry is already working"
    return RuleResult("one_position_per_symbol", False, f"{what} on {symbol}", {})



def minimums_problem(qty: Decimal, entry: float | Decimal, spec: SymbolSpec) -> str | None:
    """The exchange minimums' verdict: what is wrong, or None. ``entry`` as a Decimal
    already (``vet``'s own): not converted again."""
    return spec.check_order(qty, entry if type(entry) is Decimal else Decimal(str(entry)))


def minimums_numbers(qty: Decimal, spec: SymbolSpec) -> dict[str, object]:
    return {"qty": str(qty), "min_qty": str(spec.min_qty), "min_notional": str(spec.min_notional)}


def rule_exchange_minimums(qty: Decimal, entry: float | Decimal, spec: SymbolSpec) -> RuleResult:
    problem = minimums_problem(qty, entry, spec)
    return RuleResult("exchange_minimums", problem is None, problem or "",
                      minimums_numbers(qty, spec))


# The margin rule in two halves: ``vet`` takes the verdict at once and words a refusal
# (message and numbers) only when someone reads it (a backtest reads few of them).


def margin_verdict(notional: Decimal, leverage: int, available: Decimal) -> tuple[bool, Decimal]:
    """(enough margin?, the margin the entry needs). At 1x (or 0) the need is the notional
    itself: dividing by 1 gives the same digits and exponent, at a Decimal division's cost."""
    need = notional / leverage if leverage > 1 else notional
    return need <= available, need


def margin_words(ok: bool, need: Decimal, available: Decimal) -> tuple[str, dict[str, object]]:
    """The margin rule's message and numbers for its verdict ``ok``."""
    return (f"needs {money(need)} isolated margin, {money(available)} available" if not ok
            else "", {"need": str(need), "available": str(available)})


def rule_margin_available(notional: Decimal, leverage: int, available: Decimal) -> RuleResult:
    ok, need = margin_verdict(notional, leverage, available)
    return RuleResult("margin_available", ok, *margin_words(ok, need, available))
