"""RiskEngine.vet was rewritten for speed (rules written out instead of a generator, a shared
passing answer for one-position-per-symbol, numbers set item by item, Decision built
positionally) and took over the refusal counting and ``--no-margin-check`` from the
backtest's wrapper. Differential attack: for any signal, day, account and engine options, the
Decision (every field, the *order* of its numbers and their types, which the journal's JSON
keeps) and the refusal counts must equal the pre-merge vet's (66d3d72, kept below as it was,
wrapped as BacktestRisk wrapped it)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import Decision, RuleResult, Side, Signal, SignalKind
from tapedesk.engine.records import decision_record
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

UNLIMITED = Decimal("Infinity")


class _PreMerge(RiskEngine):
    """66d3d72's RiskEngine.vet, verbatim but for the wrapper BacktestRisk put around it
    (``refused`` counted, ``available`` unlimited without the margin check)."""

    def __init__(self, *args: Any, margin_check: bool = True, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.old_refused: dict[str, int] = {}
        self.old_margin_check = margin_check

    def vet(self, sig: Signal, **kw: Any) -> Decision:  # type: ignore[override]
        if not self.old_margin_check:
            kw["available"] = UNLIMITED
        dec = self._old_vet(sig, **kw)
        if not dec.accepted:
            self.old_refused[dec.rule] = self.old_refused.get(dec.rule, 0) + 1
        return dec

    def _old_vet(self, sig: Signal, *, day: DayCounters, equity: Decimal, available: Decimal,
                 spec: Any, has_position: bool, has_pending: bool, held_by: str = "",
                 reentry_block: str = "") -> Decision:
        if sig.kind is SignalKind.EXIT:
            if held_by and held_by != sig.strategy:
                return Decision(sig, False, rule="exit_not_its_position",
                                text=f"the open {sig.symbol} position is {held_by}'s; a "
                                "strategy exits only its own")
            return Decision(sig, True, rule="exit", text="exits are always allowed")
        cfg = self.cfg
        stopless = not self.enabled and not sig.stop_loss
        passed: list[str] = []
        numbers: dict[str, object] = {}
        for res in self._old_checks(sig, day, has_position, has_pending, reentry_block,
                                    stopless):
            numbers.update(res.numbers)
            if not res.passed:
                return Decision(sig, False, rule=res.rule, text=res.message, passed=passed,
                                numbers=numbers)
            passed.append(res.rule)
        entry: float | Decimal = sig.entry
        if self.fixed_qty is not None:
            qty = self._fixed_qty_for(spec)
            entry = px = Decimal(str(sig.entry))
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
            size = position_size(equity, sig.entry, sig.stop_loss, spec, cfg,
                                 self.costs or Costs())
        numbers.update(
            risk_amount=size.risk_amount,
            risk_costs=size.fees,
            notional=size.notional,
            capped_by_leverage=size.capped_by_leverage,
            max_leverage=cfg.max_leverage,
            stop_pct=abs(sig.entry - sig.stop_loss) / sig.entry * 100.0 if not stopless else 0.0,
        )
        res = rule_exchange_minimums(size.qty, entry, spec)
        if res.passed:
            numbers.update(res.numbers)
            passed.append(res.rule)
            res = rule_margin_available(size.notional, size.leverage, available)
        numbers.update(res.numbers)
        if not res.passed:
            return Decision(sig, False, rule=res.rule, text=res.message, passed=passed,
                            numbers=numbers)
        passed.append(res.rule)
        return Decision(sig, True, qty=size.qty, leverage=size.leverage, rule="accepted",
                        text="all rules passed", passed=passed, numbers=numbers)

    def _old_checks(self, sig, day, has_position, has_pending, reentry_block, stopless):
        yield rule_one_position(has_position, has_pending, sig.symbol)
        if reentry_block:
            yield RuleResult("after_manual_close", False, reentry_block, {})
        if not stopless:
            yield rule_stop_side(sig)
        if self.enabled:
            for rule in DAY_RULES:
                yield rule(day, self.cfg)
            yield rule_stop_distance(sig, self.cfg)


def _exact(dec: Decision) -> tuple:
    """Every field, with the numbers' order and types (the journal writes them in order)."""
    return (dec.signal, dec.accepted, repr(dec.qty), dec.leverage, dec.rule, dec.text,
            list(dec.passed), [(k, type(v).__name__, repr(v)) for k, v in dec.numbers.items()])


def _outcome(eng: RiskEngine, sig: Signal, kw: dict[str, Any]) -> tuple:
    """The decision, and the journal row it becomes; or the error it raised."""
    try:
        dec = eng.vet(sig, **kw)
    except Exception as exc:  # the same failure is the same behaviour
        return ("raised", type(exc).__name__)
    return _exact(dec), decision_record(dec, "p")


_money = st.decimals(min_value=0, max_value=100_000, places=2)
_pct = st.sampled_from([0.0, 0.05, 0.1, 0.149999, 0.15, 0.2, 0.25, 0.35, 0.3500001, 0.5, 2.0,
                        -0.2, 50.0])
_vet_case = st.fixed_dictionaries({
    "symbol": st.sampled_from(["BTCUSDT", "ETHUSDT", "XYZUSDT"]),
    "side": st.sampled_from([Side.LONG, Side.SHORT]),
    "kind": st.sampled_from([SignalKind.ENTRY, SignalKind.ENTRY, SignalKind.EXIT]),
    "entry": st.sampled_from([0.0, 0.5, 1.2345, 99.87, 2_000.0, 30_123.4, 65_000.0]),
    "stop_pct": _pct,
    "target_r": st.sampled_from([0.0, 2.0, -1.0]),
    "trades": st.integers(0, 12),
    "losses": st.integers(0, 6),
    "pnl": st.decimals(min_value=-200, max_value=200, places=2),
    "equity": st.one_of(st.sampled_from([Decimal(0), Decimal("-50.5")]), _money),
    "available": st.one_of(st.just(Decimal(0)), _money),
    "has_position": st.booleans(),
    "has_pending": st.booleans(),
    "held_by": st.sampled_from(["", "spec", "other"]),
    "reentry_block": st.sampled_from(["", "the trader closed BTCUSDT 10 s ago"]),
    "enabled": st.booleans(),
    "fixed_qty": st.sampled_from([None, Decimal("0.01"), Decimal("1"), Decimal("0.0004")]),
    "costs": st.sampled_from([None, Costs(), Costs.from_bps(5, 1)]),
    "margin_check": st.booleans(),
    "max_leverage": st.sampled_from([1, 5, 125]),
})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_vet_case, min_size=1, max_size=6))
def test_vet_decides_and_counts_exactly_as_before(cases: list[dict[str, Any]]):
    # One pair of engines per run of signals, as a backtest keeps one: counts accumulate.
    c0 = cases[0]
    cfg = RiskConfig(max_leverage=c0["max_leverage"])
    opts = dict(enabled=c0["enabled"], fixed_qty=c0["fixed_qty"], costs=c0["costs"],
                margin_check=c0["margin_check"])
    new, old = RiskEngine(cfg, **opts), _PreMerge(cfg, **opts)
    for c in cases:
        sign = c["side"].sign
        entry = c["entry"]
        stop = entry * (1 - sign * c["stop_pct"] / 100) if c["stop_pct"] else 0.0
        target = entry + sign * abs(entry - stop) * c["target_r"] if stop else 0.0
        sig = Signal("spec", c["symbol"], c["side"], 1, entry, stop, target, kind=c["kind"])
        day = DayCounters("2024-01-01", c["trades"], c["losses"], c["pnl"])
        kw = dict(day=day, equity=c["equity"], available=c["available"],
                  spec=spec_for(c["symbol"]), has_position=c["has_position"],
                  has_pending=c["has_pending"], held_by=c["held_by"],
                  reentry_block=c["reentry_block"])
        got, want = _outcome(new, sig, kw), _outcome(old, sig, kw)
        assert got == want
    assert list(new.refused.items()) == list(old.old_refused.items())


def test_the_shared_passing_answer_cannot_carry_one_vet_into_the_next():
    """``rule_one_position`` hands out one shared RuleResult when it passes: a vet must not
    leave anything in it (its numbers would show up in every later decision)."""
    eng = RiskEngine(RiskConfig(), enabled=False, fixed_qty=Decimal("0.01"))
    sig = Signal("spec", "BTCUSDT", Side.LONG, 1, 50_000.0, 49_900.0)
    for avail in ("10000", "1"):
        dec = eng.vet(sig, day=DayCounters("d"), equity=Decimal(10_000),
                      available=Decimal(avail), spec=spec_for("BTCUSDT"), has_position=False,
                      has_pending=False)
        dec.numbers["poison"] = 1
        dec.passed.append("poison")
    shared = rule_one_position(False, False, "ETHUSDT")
    assert shared == RuleResult("one_position_per_symbol", True, "", {})
