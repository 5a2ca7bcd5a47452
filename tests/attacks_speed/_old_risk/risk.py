"""The risk rulebook: every rule is one small function returning a RuleResult with numbers.

Two checkpoints use these rules (and nothing else decides risk):
- ``gate_reason`` runs *before* strategies: a halted, paused or locked desk, or stale data,
  means strategies are not even asked.
- ``RiskEngine.vet`` runs on every entry Signal and returns a Decision: accepted with size
  and leverage, or refused by the first rule that fails, with its numbers.
Exits are never refused: reducing risk is always allowed.

The rules themselves live in engine/risk_rules.py and sizing in engine/position_sizing.py;
their names are importable from here too (the old import paths).
"""

from __future__ import annotations

import math
from decimal import Decimal

from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import Decision, RuleResult, Signal, SignalKind
from tapedesk.engine.position_sizing import (
    Costs,
    Sizing,
    UnitLoss,
    position_size,
    unit_loss,
    venue_costs,
)
from tapedesk.engine.symbols import SymbolSpec

from tests.attacks_speed._old_risk.risk_rules import (
    DAY_RULES,
    DayCounters,
    day_lock_reason,
    gate_reason,
    rule_daily_loss_cap,
    rule_daily_profit_lock,
    rule_exchange_minimums,
    rule_margin_available,
    rule_max_losses,
    rule_max_trades,
    rule_one_position,
    rule_stop_distance,
    rule_stop_move,
    rule_stop_side,
)

_ZERO = Decimal(0)
_UNLIMITED = Decimal("Infinity")
_NO_COSTS = Costs()

__all__ = [
    "DAY_RULES", "Costs", "DayCounters", "RiskEngine", "Sizing", "UnitLoss", "day_lock_reason",
    "gate_reason", "position_size", "rule_daily_loss_cap", "rule_daily_profit_lock",
    "rule_exchange_minimums", "rule_margin_available", "rule_max_losses", "rule_max_trades",
    "rule_one_position", "rule_stop_distance", "rule_stop_move", "rule_stop_side", "unit_loss",
    "venue_costs",
]


class RiskEngine:
    """Vets signals against the rulebook; sizes the accepted ones."""

    def __init__(
        self,
        cfg: RiskConfig,
        *,
        enabled: bool = True,
        fixed_qty: Decimal | None = None,
        costs: Costs | None = None,
        margin_check: bool = True,
    ) -> None:
        self.cfg = cfg
        #: None until someone says: the engine then fills in its venue's fees and slippage.
        self.costs = costs
        self.enabled = enabled  # False only for research backtests (--no-risk), labelled
        self.fixed_qty = fixed_qty  # --fixed-qty: bypass sizing, labelled
        #: symbol -> (spec, fixed_qty, rounded): --fixed-qty rounded once per symbol, not
        #: for every entry (valid while the same spec and fixed_qty objects are asked about).
        self._fixed_rounded: dict[str, tuple[SymbolSpec, Decimal, Decimal]] = {}
        #: False only for research backtests (--no-margin-check), labelled: every entry is
        #: vetted as if the margin available were unlimited (the one margin rule stays, only
        #: its input changes).
        self.margin_check = margin_check
        #: rule -> how many signals it refused (a backtest says how many entries it lost).
        self.refused: dict[str, int] = {}

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
                return self._refuse(sig, "exit_not_its_position",
                                    f"the open {sig.symbol} position is {held_by}'s; a "
                                    "strategy exits only its own", [], {})
            return Decision(sig, True, rule="exit", text="exits are always allowed")
        cfg = self.cfg
        # Only a --no-risk research run takes an entry without a stop (ema_cross stop_pct=0).
        stopless = not self.enabled and not sig.stop_loss
        passed: list[str] = []
        numbers: dict[str, object] = {}
        res = self._entry_checks(sig, day, has_position, has_pending, reentry_block, stopless,
                                 passed, numbers)
        if res is not None:
            return self._refuse(sig, res.rule, res.message, passed, numbers)
        entry: float | Decimal = sig.entry
        capped = False
        if self.fixed_qty is not None:
            qty = self._fixed_qty_for(spec)
            entry = px = Decimal(str(sig.entry))  # the same Decimal the minimums check makes
            notional = qty * px
            lev = max(1, min(cfg.max_leverage, math.ceil(notional / equity))) if equity > 0 else 1
            if stopless:
                risk_amount = risk_costs = _ZERO
            else:
                loss = unit_loss(px, Decimal(str(sig.stop_loss)), self.costs or _NO_COSTS)
                risk_amount = qty * loss.total
                risk_costs = qty * (loss.fees + loss.slippage)
        elif stopless:
            return self._refuse(sig, "no_stop_to_size", "an entry without a stop cannot be "
                                "sized by risk: give --fixed-qty", passed, {})
        else:
            size = position_size(
                equity, sig.entry, sig.stop_loss, spec, cfg, self.costs or _NO_COSTS
            )
            qty, lev, notional, capped = size.qty, size.leverage, size.notional, \
                size.capped_by_leverage
            risk_amount, risk_costs = size.risk_amount, size.fees
        # Item by item, not update(**...): this runs for every entry (a key the stop band
        # already set keeps its place, as update would keep it).
        numbers["risk_amount"] = risk_amount
        numbers["risk_costs"] = risk_costs
        numbers["notional"] = notional
        numbers["capped_by_leverage"] = capped
        numbers["max_leverage"] = cfg.max_leverage
        numbers["stop_pct"] = (abs(sig.entry - sig.stop_loss) / sig.entry * 100.0
                               if not stopless else 0.0)
        # The two sizing rules, written out (no generator: this runs for every entry); the
        # margin rule is worked out only once the minimums passed.
        res = rule_exchange_minimums(qty, entry, spec)
        if res.passed:
            numbers.update(res.numbers)
            passed.append(res.rule)
            res = rule_margin_available(notional, lev,
                                        available if self.margin_check else _UNLIMITED)
        numbers.update(res.numbers)
        if not res.passed:
            return self._refuse(sig, res.rule, res.message, passed, numbers)
        passed.append(res.rule)
        return Decision(sig, True, qty, lev, "accepted", "all rules passed", passed, numbers)

    def _refuse(self, sig: Signal, rule: str, text: str, passed: list[str],
                numbers: dict[str, object]) -> Decision:
        """The refusal by ``rule``, counted."""
        refused = self.refused
        refused[rule] = refused.get(rule, 0) + 1
        return Decision(sig, False, _ZERO, 0, rule, text, passed, numbers)

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
                      has_pending: bool, reentry_block: str, stopless: bool,
                      passed: list[str], numbers: dict[str, object]) -> RuleResult | None:
        """The pre-sizing rules in their order, each evaluated only if all before it passed
        (a refused entry stops at its rule: the rest need not be worked out). Returns the
        refusing rule's result, or None; ``passed`` and ``numbers`` gather the others'.
        Written out rather than a generator: this runs for every entry signal."""
        res = rule_one_position(has_position, has_pending, sig.symbol)  # it has no numbers
        if not res.passed:
            return res
        passed.append(res.rule)
        if reentry_block:
            return RuleResult("after_manual_close", False, reentry_block, {})
        if not stopless:
            res = rule_stop_side(sig)
            numbers.update(res.numbers)
            if not res.passed:
                return res
            passed.append(res.rule)
        if self.enabled:
            cfg = self.cfg
            for rule in DAY_RULES:
                res = rule(day, cfg)
                numbers.update(res.numbers)
                if not res.passed:
                    return res
                passed.append(res.rule)
            res = rule_stop_distance(sig, cfg)
            numbers.update(res.numbers)
            if not res.passed:
                return res
            passed.append(res.rule)
        return None
