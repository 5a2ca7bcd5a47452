"""Exchange filters for a symbol, and rounding exactly as Binance requires.

Binance USDT-M rejects a price that is not a multiple of ``tickSize`` (PRICE_FILTER) and a
quantity that is not a multiple of ``stepSize`` (LOT_SIZE / MARKET_LOT_SIZE) with -1111, and
an order below ``MIN_NOTIONAL.notional`` with -4164. Quantities are always rounded *down*
(never risk more than asked); prices are rounded to the nearest tick unless a direction is
given (a stop is moved away from entry only if asked). Integer tick arithmetic on Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from math import floor
from typing import Any


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One leverage bracket: from ``floor`` USDT of notional, this rate and ``cum`` apply."""

    floor: Decimal
    mmr: Decimal
    cum: Decimal


def tiers(*rows: tuple[str, str]) -> tuple[MarginTier, ...]:
    """Brackets from (notional floor, maintenance rate) pairs; ``cum`` is derived the way
    Binance defines it (cumₙ = cumₙ₋₁ + floorₙ × (mmrₙ − mmrₙ₋₁)), so the maintenance
    margin is continuous across a bracket boundary."""
    out: list[MarginTier] = []
    cum, prev = Decimal(0), Decimal(0)
    for floor_text, mmr_text in rows:
        floor, mmr = Decimal(floor_text), Decimal(mmr_text)
        cum += floor * (mmr - prev) if out else Decimal(0)
        out.append(MarginTier(floor, mmr, cum))
        prev = mmr
    return tuple(out)


def tiers_from_leverage_bracket(row: dict[str, Any]) -> tuple[MarginTier, ...]:
    """From one entry of ``futures_leverage_bracket`` (``/fapi/v1/leverageBracket``)."""
    return tuple(
        MarginTier(Decimal(str(b["notionalFloor"])), Decimal(str(b["maintMarginRatio"])),
                   Decimal(str(b.get("cum", 0))))
        for b in sorted(row["brackets"], key=lambda b: Decimal(str(b["notionalFloor"])))
    )


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    market_step_size: Decimal | None = None
    market_max_qty: Decimal | None = None
    max_qty: Decimal | None = None
    # First leverage bracket: maintenance margin rate and maintenance amount ("cum").
    maint_margin_rate: Decimal = Decimal("0.004")
    maint_amount: Decimal = Decimal("0")
    #: All brackets, smallest first; empty means one tier (the two fields above) for all.
    margin_tiers: tuple[MarginTier, ...] = ()

    def maintenance(self, notional: Decimal) -> tuple[Decimal, Decimal]:
        """(maintenance margin rate, cum) for a position of this notional: its bracket."""
        reached = None  # the last one reached, as listed (smallest floor first): a small
        for tier in self.margin_tiers:  # position stops at the second tier, not the ninth
            if notional < tier.floor:
                break
            reached = tier
        if reached is not None:
            return reached.mmr, reached.cum
        return self.maint_margin_rate, self.maint_amount

    def round_qty(self, qty: Decimal | float, market: bool = False) -> Decimal:
        """Round a quantity down to the lot step (MARKET_LOT_SIZE for market orders)."""
        step = self.market_step_size if market and self.market_step_size else self.step_size
        value = qty if type(qty) is Decimal else Decimal(str(qty))
        unit = _UNITS.get(step, _UNSEEN)  # the cache _unit_of fills, read without a call
        if unit is _UNSEEN:
            unit = _unit_of(step)
        if unit is not None:
            # Dividing by a power of ten is exact, so this is the same rounding as below.
            rounded = value.quantize(unit, ROUND_DOWN)  # positional: half the call cost
            return rounded.quantize(step)
        steps = (value / step).to_integral_value(rounding=ROUND_DOWN)
        return (steps * step).quantize(step)

    def round_price(self, price: Decimal | float, direction: str = "nearest") -> Decimal:
        """Round a price to the tick: ``nearest``, ``down`` or ``up``."""
        mode = _MODES[direction]
        tick = self.tick_size
        fast = _fast_last  # this tick's constants (``_fast_for``): no Decimal hashed per call
        if fast[0] is not tick:
            fast = _fast_for(tick)
        _tick, scale, mult, quantum, unit = fast
        if mult and type(price) is float:
            # A float away from every tick boundary (the usual price) needs no Decimal(str())
            # (~6,000 instructions); one near a boundary, or anything unusual, goes below.
            scaled = price * scale
            if 0.0 < scaled < _FAST_LIMIT:
                frac = scaled % 1.0  # exact; no call before the test (an on-tick price fails it)
                if _EPS < frac < _ONE_EPS:
                    k = floor(scaled)
                    if mode is ROUND_CEILING:
                        return Decimal((k + 1) * mult) * quantum
                    if mode is ROUND_FLOOR:
                        return Decimal(k * mult) * quantum
                    if not -_EPS < frac - 0.5 < _EPS:  # ROUND_HALF_UP, not at a half
                        return Decimal((k + 1 if frac > 0.5 else k) * mult) * quantum
        value = price if type(price) is Decimal else Decimal(str(price))
        if unit is not None:
            rounded = value.quantize(unit, mode)
            return rounded.quantize(tick)
        ticks = (value / tick).to_integral_value(rounding=mode)
        return (ticks * tick).quantize(tick)

    def check_order(self, qty: Decimal, price: Decimal) -> str | None:
        """The reason Binance would reject this order for its filters, or None."""
        if qty < self.min_qty:
            return f"quantity {qty} is below the minimum {self.min_qty}"
        if self.max_qty is not None and qty > self.max_qty:
            return f"quantity {qty} is above the maximum {self.max_qty}"
        if qty * price < self.min_notional:
            return f"notional {qty * price:.2f} USDT is below the minimum {self.min_notional}"
        return None

    @classmethod
    def from_exchange_info(cls, info: dict[str, Any]) -> SymbolSpec:
        """Build from one entry of ``/fapi/v1/exchangeInfo``'s ``symbols`` list."""
        filters = {f["filterType"]: f for f in info.get("filters", [])}
        price = filters.get("PRICE_FILTER", {})
        lot = filters.get("LOT_SIZE", {})
        mlot = filters.get("MARKET_LOT_SIZE", {})
        notional = filters.get("MIN_NOTIONAL", {})
        return cls(
            symbol=info["symbol"],
            tick_size=_plain(price.get("tickSize", "0.01")),
            step_size=_plain(lot.get("stepSize", "0.001")),
            min_qty=_plain(lot.get("minQty", "0.001")),
            min_notional=_plain(notional.get("notional", "5")),
            market_step_size=_plain(mlot["stepSize"]) if "stepSize" in mlot else None,
            market_max_qty=_plain(mlot["maxQty"]) if "maxQty" in mlot else None,
            max_qty=_plain(lot["maxQty"]) if "maxQty" in lot else None,
        )


_MODES = {"nearest": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}


def _unit_of(size: Decimal) -> Decimal | None:
    """``size`` itself when it is 1E-n written plainly, 1 of its last digit for 0.10 or
    0.0100 (quantize to it, then restore the exponent), None for 0.5 or 0.25. Cached by
    value: the unit depends only on the value (0.1 and 0.10 share it)."""
    try:
        return _UNITS[size]
    except KeyError:
        pass
    unit = None
    if size.is_finite() and size > 0:
        _sign, digits, exp = size.normalize().as_tuple()
        if digits == (1,):
            unit = Decimal((0, (1,), exp))
    _UNITS[size] = unit
    return unit


#: ``round_price`` of a float, without the Decimal: the float ``price * scale`` (exact
#: powers of ten) is within 1.5 ulp of the price's ``str()`` value times ``scale``; below
#: ``_FAST_LIMIT`` (2**30) that is < 2e-7, so a fraction in (``_EPS``, 1 - ``_EPS``) (and,
#: rounding to nearest, not within ``_EPS`` of a half) puts the exact value strictly
#: between the same two ticks: floor/ceiling/nearest are ``k``/``k + 1``/either, and
#: ``Decimal(k * mult) * quantum`` is ``quantize(unit).quantize(tick)``'s digits and
#: exponent. tests/engine_units/test_round_price_float.py compares it with the Decimal path.
_FAST_LIMIT = float(2**30)
_EPS, _ONE_EPS = 1e-6, 1.0 - 1e-6
_Fast = tuple[object, float, int, Decimal, "Decimal | None"]
#: Tick object id -> (the tick, scale, mult, quantum, unit); the last one asked for in
#: ``_fast_last``. By object, not value: 0.1 and 0.10 are equal but differ in exponent.
_FAST_BY_ID: dict[int, _Fast] = {}
_fast_last: _Fast = (None, 0.0, 0, Decimal(0), None)


def _fast_for(tick: Decimal) -> _Fast:
    """(``tick``, 10**-e of its unit 1E``e``, 10**(e - the tick's exponent), 1E(the tick's
    exponent), the unit) for a power-of-ten unit with -15 <= e <= 0; ``mult`` 0 (no float
    path) otherwise, the unit None when the tick is not a power of ten (``_unit_of``)."""
    global _fast_last
    fast = _FAST_BY_ID.get(id(tick))
    if fast is None or fast[0] is not tick:
        unit = _unit_of(tick)
        fast = (tick, 0.0, 0, Decimal(0), unit)
        if unit is not None:
            e = unit.as_tuple().exponent
            t = tick.as_tuple().exponent
            if isinstance(e, int) and isinstance(t, int) and -15 <= e <= 0 and t <= e:
                fast = (tick, float(10 ** -e), 10 ** (e - t), Decimal((0, (1,), t)), unit)
        if len(_FAST_BY_ID) >= 256:  # specs made again and again (tests, unknown symbols)
            _FAST_BY_ID.clear()
        _FAST_BY_ID[id(tick)] = fast  # the entry holds the tick: its id is not reused
    _fast_last = fast
    return fast


# Tick and step sizes seen so far (a handful): a module dict, as SymbolSpec is a frozen
# dataclass whose fields other code copies by name.
_UNITS: dict[Decimal, Decimal | None] = {}
_UNSEEN = Decimal(-1)  # not in _UNITS yet (None there means "not a power of ten")


def _plain(text: str) -> Decimal:
    """``"100.00"`` → ``Decimal("100")``, not ``1E+2``: exchange numbers are shown to people."""
    value = Decimal(text).normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value


def _spec(symbol: str, tick: str, step: str, min_qty: str, notional: str, mmr: str,
          brackets: tuple[MarginTier, ...] = ()) -> SymbolSpec:
    return SymbolSpec(
        symbol,
        Decimal(tick),
        Decimal(step),
        Decimal(min_qty),
        Decimal(notional),
        maint_margin_rate=Decimal(mmr),
        margin_tiers=brackets,
    )


# Default leverage brackets (notional floor, maintenance margin rate) for BTCUSDT and ETHUSDT,
# written from Binance's bracket table from memory, not fetched: close to, not exactly, what
# the exchange uses today. Paper uses them; a live venue replaces them with what
# futures_leverage_bracket returns (tiers_from_leverage_bracket).
BTC_TIERS = tiers(("0", "0.004"), ("50000", "0.005"), ("600000", "0.01"),
                  ("3000000", "0.025"), ("12000000", "0.05"), ("20000000", "0.1"),
                  ("40000000", "0.125"), ("100000000", "0.15"), ("200000000", "0.25"))
ETH_TIERS = tiers(("0", "0.004"), ("50000", "0.005"), ("600000", "0.0065"),
                  ("3000000", "0.01"), ("12000000", "0.02"), ("50000000", "0.05"),
                  ("65000000", "0.1"), ("150000000", "0.125"), ("320000000", "0.15"))


# Binance USDT-M filters as published in exchangeInfo (late 2026); live mode re-reads them.
KNOWN_SYMBOLS: dict[str, SymbolSpec] = {
    "BTCUSDT": _spec("BTCUSDT", "0.10", "0.001", "0.001", "100", "0.004", BTC_TIERS),
    "ETHUSDT": _spec("ETHUSDT", "0.01", "0.001", "0.001", "20", "0.004", ETH_TIERS),
    "SOLUSDT": _spec("SOLUSDT", "0.0100", "1", "1", "5", "0.005"),
    "BNBUSDT": _spec("BNBUSDT", "0.010", "0.01", "0.01", "5", "0.005"),
}


def spec_for(symbol: str) -> SymbolSpec:
    """Known filters for ``symbol``, or conservative defaults for an unknown one."""
    sym = symbol.upper()
    return KNOWN_SYMBOLS.get(sym) or _spec(sym, "0.01", "0.001", "0.001", "5", "0.01")
