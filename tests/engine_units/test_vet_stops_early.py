"""RiskEngine.vet evaluates its rules lazily (a refused entry stops at its rule, and a passing
rule words no message): its Decision must equal the one the rulebook gave when every rule was
evaluated up front. The reference below is that eager loop, written out; any difference in
the refusing rule, its text, the rules recorded as passed or the numbers (keys, values and
their order: the journal stores them as JSON) fails."""

from __future__ import annotations

import json
import math
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import Decision, RuleResult, Side, Signal
from tapedesk.engine.risk import (
    DAY_RULES,
    Costs,
    DayCounters,
    RiskEngine,
    Sizing,
    position_size,
    rule_exchange_minimums,
    rule_margin_available,
    rule_one_position,
    rule_stop_distance,
    rule_stop_side,
    unit_loss,
)
from tapedesk.engine.symbols import spec_for

CFG = RiskConfig()
BTC = spec_for("BTCUSDT")
COSTS = Costs.from_bps(5, 1)


def eager(eng: RiskEngine, sig: Signal, day: DayCounters, equity: Decimal, available: Decimal,
          has_position: bool, has_pending: bool, reentry_block: str) -> Decision:
    """The vet as it was: all pre-sizing rules built first, then walked in order."""
    cfg = eng.cfg
    stopless = not eng.enabled and not sig.stop_loss
    checks: list[RuleResult] = [rule_one_position(has_position, has_pending, sig.symbol)]
    if reentry_block:
        checks.append(RuleResult("after_manual_close", False, reentry_block, {}))
    if not stopless:
        checks.append(rule_stop_side(sig))
    if eng.enabled:
        checks += [rule(day, cfg) for rule in DAY_RULES]
        checks.append(rule_stop_distance(sig, cfg))
    passed: list[str] = []
    numbers: dict[str, object] = {}
    for res in checks:
        numbers.update(res.numbers)
        if not res.passed:
            return Decision(sig, False, rule=res.rule, text=res.message, passed=passed,
                            numbers=numbers)
        passed.append(res.rule)
    if eng.fixed_qty is not None:
        qty = BTC.round_qty(eng.fixed_qty)
        notional = qty * Decimal(str(sig.entry))
        lev = max(1, min(cfg.max_leverage, math.ceil(notional / equity))) if equity > 0 else 1
        if stopless:
            size = Sizing(qty, lev, Decimal(0), notional, False)
        else:
            loss = unit_loss(Decimal(str(sig.entry)), Decimal(str(sig.stop_loss)), COSTS)
            size = Sizing(qty, lev, qty * loss.total, notional, False,
                          qty * (loss.fees + loss.slippage))
    elif stopless:
        return Decision(sig, False, rule="no_stop_to_size", passed=passed,
                        text="an entry without a stop cannot be sized by risk: give --fixed-qty")
    else:
        size = position_size(equity, sig.entry, sig.stop_loss, BTC, cfg, COSTS)
    numbers.update(
        risk_amount=size.risk_amount, risk_costs=size.fees, notional=size.notional,
        capped_by_leverage=size.capped_by_leverage, max_leverage=cfg.max_leverage,
        stop_pct=abs(sig.entry - sig.stop_loss) / sig.entry * 100.0 if not stopless else 0.0,
    )
    for res in (rule_exchange_minimums(size.qty, sig.entry, BTC),
                rule_margin_available(size.notional, size.leverage, available)):
        numbers.update(res.numbers)
        if not res.passed:
            return Decision(sig, False, rule=res.rule, text=res.message, passed=passed,
                            numbers=numbers)
        passed.append(res.rule)
    return Decision(sig, True, qty=size.qty, leverage=size.leverage, rule="accepted",
                    text="all rules passed", passed=passed, numbers=numbers)


def _same(a: Decision, b: Decision) -> None:
    assert (a.accepted, a.rule, a.text, a.passed, a.qty, a.leverage) == \
        (b.accepted, b.rule, b.text, b.passed, b.qty, b.leverage)
    assert json.dumps(a.numbers, default=str) == json.dumps(b.numbers, default=str)


@settings(max_examples=300, deadline=None)
@given(
    enabled=st.booleans(),
    fixed=st.sampled_from([None, Decimal("0.01"), Decimal("0.0001"), Decimal("5")]),
    side=st.sampled_from([Side.LONG, Side.SHORT]),
    stop_pct=st.sampled_from([0.0, 0.05, 0.15, 0.25, 0.35, 0.5, -0.25]),
    target=st.booleans(),
    trades=st.integers(0, 12), losses=st.integers(0, 5),
    pnl=st.sampled_from(["0", "-100", "-99.99", "75", "74.99", "10"]),
    has_position=st.booleans(), has_pending=st.booleans(),
    reentry=st.sampled_from(["", "the trader asked to close it by hand"]),
    available=st.sampled_from(["0", "1", "100", "10000"]),
)
def test_a_lazy_vet_decides_exactly_as_the_eager_rulebook(enabled, fixed, side, stop_pct, target,
                                                           trades, losses, pnl, has_position,
                                                           has_pending, reentry, available):
    entry = 50_000.0
    stop = entry * (1 - side.sign * stop_pct / 100) if stop_pct else 0.0
    tp = entry * (1 + side.sign * 0.005) if target else 0.0
    sig = Signal("s", "BTCUSDT", side, 1, entry, stop_loss=stop, take_profit=tp)
    day = DayCounters("2024-01-01", trades, losses, Decimal(pnl))
    eng = RiskEngine(CFG, enabled=enabled, fixed_qty=fixed, costs=COSTS)
    kw = dict(equity=Decimal("10000"), available=Decimal(available))
    got = eng.vet(sig, day=day, spec=BTC, has_position=has_position, has_pending=has_pending,
                  reentry_block=reentry, **kw)
    want = eager(eng, sig, day, kw["equity"], kw["available"], has_position, has_pending, reentry)
    _same(got, want)
