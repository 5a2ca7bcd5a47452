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
from typing import Any

from tapedesk.engine import explanations as say
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
from tapedesk.engine.positions import remember_price
from tapedesk.engine.risk_rules import (
    DAY_RULES,
    DayCounters,
    day_lock_reason,
    gate_reason,
    margin_verdict,
    margin_words,
    minimums_numbers,
    minimums_problem,
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
    stop_side_numbers,
    stop_side_ok,
)
from tapedesk.engine.symbols import SymbolSpec

_ZERO = Decimal(0)
_EXIT = SignalKind.EXIT  # an enum member read through its class costs ~130 ns (3.11)
_UNLIMITED = Decimal("Infinity")
_NO_COSTS = Costs()

__all__ = [
    "DAY_RULES", "Costs", "DayCounters", "Refusal", "RiskEngine", "Sizing", "UnitLoss", "day_lock_reason",
    "gate_reason", "position_size", "rule_daily_loss_cap", "rule_daily_profit_lock",
    "rule_exchange_minimums", "rule_margin_available", "rule_max_losses", "rule_max_trades",
    "rule_one_position", "rule_stop_distance", "rule_stop_move", "rule_stop_side", "unit_loss",
    "venue_costs",
]


class _LazyVerdict:
    """A sizing verdict whose Decision (message, numbers, the sizing rules' passes) is made
    when first read, by the one ``_sized_words``: a backtest reads few. Its arguments are
    never changed after ``verdict`` made them."""

    __slots__ = ("_dec", "_sized", "signal")
    _dec: Decision | None  # each kind's __init__ sets all three (no super() call per verdict)

    def decision(self) -> Decision:
        dec = self._dec
        if dec is None:
            sized = self._sized
            dec = self._dec = self._made(_sized_words(*sized), sized[0], sized[1])
            self._sized = ()
        return dec

    def _made(self, text: str, passed: list[str], numbers: dict[str, object]) -> Decision:
        raise NotImplementedError


class Refusal(_LazyVerdict):
    """An entry refused by a sizing rule (minimums or margin)."""

    __slots__ = ("rule",)
    accepted = False

    def __init__(self, sig: Signal, rule: str, sized: tuple) -> None:
        self.signal, self._sized, self._dec = sig, sized, None
        self.rule = rule

    def _made(self, text: str, passed: list[str], numbers: dict[str, object]) -> Decision:
        return Decision(self.signal, False, _ZERO, 0, self.rule, text, passed, numbers)

    def line(self) -> tuple[object, str, str, str | None, Decimal | None, Decimal | None]:
        """``refusal_line``'s arguments: the fields its explanation line reads, without the
        signal and numbers the Decision holds. A backtest keeps its last 2,000 lines unworded
        for a while; one holding all of that cost ~2 us a refusal to let go of later."""
        sig = self.signal
        dec = self._dec
        if dec is not None:
            return sig.side, sig.symbol, sig.strategy, dec.text, None, None
        sized = self._sized
        return sig.side, sig.symbol, sig.strategy, sized[12], sized[14], sized[15]


class Acceptance(_LazyVerdict):
    """An accepted entry: a backtest has no journal and words only the taken lines it keeps.
    Carrying the entry out reads what a Decision holds: ``accepted``, ``rule``, ``qty``,
    ``leverage``, ``signal``."""

    __slots__ = ("leverage", "qty")
    accepted = True
    rule = "accepted"

    def __init__(self, sig: Signal, qty: Decimal, leverage: int, sized: tuple) -> None:
        self.signal, self._sized, self._dec = sig, sized, None
        self.qty = qty
        self.leverage = leverage

    def _made(self, text: str, passed: list[str], numbers: dict[str, object]) -> Decision:
        return Decision(self.signal, True, self.qty, self.leverage, self.rule,
                        "all rules passed", passed, numbers)


def taken_line(verdict: Decision | Acceptance, equity: Decimal, risk_pct: float) -> str:
    """``say.taken`` of an accepted verdict (an exit's Decision, or an entry's Acceptance)."""
    dec = verdict if type(verdict) is Decision else verdict.decision()
    return say.taken(dec, equity, risk_pct)  # type: ignore[union-attr]


def refusal_line(side: object, symbol: str, strategy: str, problem: str | None,
                 need: Decimal | None, available: Decimal | None) -> str:
    """``say.refused`` of the Refusal ``line`` came from: the same words, from its fields."""
    return say.refused_line(side, symbol, strategy, _refusal_text(problem, need, available))


def _refusal_text(problem: str | None, need: Decimal | None, available: Decimal | None) -> str:
    """The refusing sizing rule's message: the minimums' ``problem``, else the margin's."""
    if problem is not None:
        return problem
    assert need is not None and available is not None
    return margin_words(False, need, available)[0]


def _sized_words(passed: list[str], numbers: dict[str, object], sig: Signal, costs: Costs,
                 risk: tuple[Decimal, Decimal] | None, qty: Decimal, entry: float | Decimal,
                 notional: Decimal, capped: bool, max_leverage: int, stopless: bool,
                 spec: SymbolSpec, problem: str | None, margin_ok: bool,
                 need: Decimal | None, available: Decimal) -> str:
    """An entry's sizing numbers and the two sizing rules' passes into ``numbers`` and
    ``passed`` (in the order the journal keeps them); the refusing rule's message, or ""."""
    if risk is None:  # --fixed-qty with a stop: ``entry`` is the Decimal price
        loss = unit_loss(entry, Decimal(str(sig.stop_loss)), costs)  # type: ignore[arg-type]
        risk = (qty * loss.total, qty * (loss.fees + loss.slippage))
    # Item by item, not update(**...): a key the stop band already set keeps its place.
    numbers["risk_amount"] = risk[0]
    numbers["risk_costs"] = risk[1]
    numbers["notional"] = notional
    numbers["capped_by_leverage"] = capped
    numbers["max_leverage"] = max_leverage
    numbers["stop_pct"] = abs(sig.entry - sig.stop_loss) / sig.entry * 100.0 \
        if not stopless else 0.0
    numbers.update(minimums_numbers(qty, spec))
    if problem is not None:
        return problem
    passed.append("exchange_minimums")
    assert need is not None
    text, more = margin_words(margin_ok, need, available)
    numbers.update(more)
    if margin_ok:
        passed.append("margin_available")
    return text


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
        self._prices: dict[float, Decimal] = {}  # _decimal_price's
        #: False only for research backtests (--no-margin-check), labelled: every entry is
        #: vetted as if the margin available were unlimited (the one margin rule stays, only
        #: its input changes).
        self.margin_check = margin_check
        #: rule -> how many signals it refused (a backtest says how many entries it lost).
        self.refused: dict[str, int] = {}

    def vet(self, sig: Signal, **where: Any) -> Decision:
        """The Decision on ``sig`` (see ``_vet`` for ``where``), worded in full."""
        dec = self.verdict(sig, **where)
        return dec if type(dec) is Decision else dec.decision()

    def verdict(
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
    ) -> Decision | Refusal | Acceptance:
        """``vet``'s verdict: an entry refused by a sizing rule comes as a ``Refusal``, an
        accepted one as an ``Acceptance``, their messages and numbers made only when read
        (``.decision()``: a backtest reads few); the other rules' refusals and exits as a
        Decision.
        ``held_by``: the strategy whose position is open on the symbol ("" if none/unknown);
        ``reentry_block``: why this entry would re-open what the trader just closed by hand
        (engine.position_actions), "" when it would not."""
        if sig.kind is _EXIT:
            return self.exit_verdict(sig, held_by)
        return self.entry_verdict(sig, day, equity, available, spec, has_position, has_pending,
                                  reentry_block)

    def exit_verdict(self, sig: Signal, held_by: str) -> Decision:
        """An exit's verdict (``verdict`` of an EXIT signal): it reads only whose position is
        open, so the engine asks it without working out an entry's inputs."""
        if held_by and held_by != sig.strategy:  # one strategy never closes another's trade
            return self._refuse(sig, "exit_not_its_position",
                                f"the open {sig.symbol} position is {held_by}'s; a "
                                "strategy exits only its own", [], {})
        # Positional, every field given: a keyword call of the dataclass costs ~1.7k
        # instructions more.
        return Decision(sig, True, _ZERO, 0, "exit", "exits are always allowed", [], {})

    def entry_verdict(self, sig: Signal, day: DayCounters, equity: Decimal, available: Decimal,
                      spec: SymbolSpec, has_position: bool, has_pending: bool,
                      reentry_block: str) -> Decision | Refusal | Acceptance:
        """``verdict`` of an entry signal, its arguments by position (the engine's call for
        every entry: keywords cost ~600 instructions a call)."""
        cfg = self.cfg
        # Only a --no-risk research run takes an entry without a stop (ema_cross stop_pct=0).
        stopless = not self.enabled and not sig.stop_loss
        passed: list[str] = []
        numbers: dict[str, object] = {}
        res = self._entry_checks(sig, day, has_position, has_pending, reentry_block, stopless,
                                 passed, numbers)
        if res is not None:
            return self._refuse(sig, res.rule, res.message, passed, numbers)
        capped = False
        costs = self.costs or _NO_COSTS
        if self.fixed_qty is not None:
            qty = self._fixed_qty_for(spec)
            entry: float | Decimal = self._decimal_price(sig.entry)
            notional = qty * entry
            # notional <= equity: the ceiling of their ratio is at most 1, so 1x (exactly
            # what the division gives, without a Decimal division for most entries); a
            # ratio at or over the cap is the cap (ceil would not go below it).
            if equity <= _ZERO or notional <= equity:
                lev = 1
            else:
                ratio = notional / equity
                top = cfg.max_leverage
                lev = max(1, top) if ratio >= top else max(1, math.ceil(ratio))
            # None: its risk is worked out when the numbers are read (_sized_words).
            risk: tuple[Decimal, Decimal] | None = (_ZERO, _ZERO) if stopless else None
            problem = spec.check_order(qty, entry)  # minimums_problem of a Decimal price
        elif stopless:
            return self._refuse(sig, "no_stop_to_size", "an entry without a stop cannot be "
                                "sized by risk: give --fixed-qty", passed, {})
        else:
            entry = sig.entry
            size = position_size(equity, entry, sig.stop_loss, spec, cfg, costs)
            qty, lev, notional, capped = size.qty, size.leverage, size.notional, \
                size.capped_by_leverage
            risk = (size.risk_amount, size.fees)
            problem = minimums_problem(qty, entry, spec)
        # The two sizing rules' verdicts now; their messages and numbers (and the risk
        # amount) only when read: the margin rule is worked out once the minimums passed.
        margin_ok = False
        need = None
        if not self.margin_check:
            available = _UNLIMITED
        if problem is None:
            margin_ok, need = margin_verdict(notional, lev, available)
        sized = (passed, numbers, sig, costs, risk, qty, entry, notional, capped,
                 cfg.max_leverage, stopless, spec, problem, margin_ok, need, available)
        if not margin_ok:
            rule = "margin_available" if problem is None else "exchange_minimums"
            refused = self.refused
            refused[rule] = refused.get(rule, 0) + 1
            return Refusal(sig, rule, sized)
        return Acceptance(sig, qty, lev, sized)

    def _refuse(self, sig: Signal, rule: str, text: str, passed: list[str],
                numbers: dict[str, object]) -> Decision:
        """The refusal by ``rule``, counted."""
        refused = self.refused
        refused[rule] = refused.get(rule, 0) + 1
        return Decision(sig, False, _ZERO, 0, rule, text, passed, numbers)

    def _decimal_price(self, value: float) -> Decimal:
        """``Decimal(str(value))``, kept for the prices a strategy signals again and again (bar
        closes, a grid's levels). Positive floats only: 0.0 and -0.0 (or 5 and 5.0) are one key but
        two texts."""
        if type(value) is float and value > 0.0:
            kept = self._prices.get(value)
            if kept is None:
                # Bounded (~1.5 MiB) whatever a run signals; a strategy entering at bar closes
                # signals a few thousand prices again and again (grid on 1 M bars: 7,238 for
                # 146,359 entries; 512 kept 19 % of them, 8,192 95 %).
                if len(self._prices) >= 8192:
                    self._prices.clear()
                kept = self._prices[value] = Decimal(str(value))
            remember_price(value, kept)  # the venue's margin check values the entry so
            return kept
        return Decimal(str(value))

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
            if not stop_side_ok(sig):  # the RuleResult (and its message) for a refusal only
                res = rule_stop_side(sig)
                numbers.update(res.numbers)
                return res
            numbers.update(stop_side_numbers(sig))
            passed.append("stop_and_target_side")
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
