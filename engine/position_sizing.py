"""Position sizing: what a stop-out costs per unit and how much to trade for the risk asked.

One rule for sizing an entry (``position_size``) and for a position's R (``unit_loss``),
counting both fees and slippage. Split from engine/risk.py (which re-exports these names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tapedesk.engine.config import PaperConfig, RiskConfig
from tapedesk.engine.symbols import SymbolSpec


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


@dataclass(slots=True)
class UnitLoss:
    """The loss per unit of a stop-out: distance + both fees + slippage on both legs.

    Never changed once made; not ``frozen``: a frozen dataclass is built three times slower,
    and one is made for every vetted entry and every entry fill."""

    distance: Decimal
    fees: Decimal
    slippage: Decimal

    @property
    def total(self) -> Decimal:
        return self.distance + self.fees + self.slippage


def unit_loss(entry: Decimal, stop: Decimal, costs: Costs) -> UnitLoss:
    """One rule, used for sizing and for a position's R: what a stop-out loses per unit."""
    both = entry + stop  # the two legs' prices, on which the fees and the slippage fall
    return UnitLoss(abs(entry - stop), both * costs.taker_fee, both * costs.slippage)


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
