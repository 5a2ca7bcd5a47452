"""Net (one-way mode) position accounting: the one place a fill changes a position.

Used by the paper venue (as the simulated exchange's books) and by the engine (as the
desk's own books, rebuilt from journaled fills), so both always agree on average entry
and realised P&L.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tapedesk.engine.events import Fill, Position, RoundTrip, Side
from tapedesk.engine.symbols import SymbolSpec

ZERO = Decimal(0)
#: A short's P&L sign as a Decimal: ``x * _MINUS`` is ``x * -1`` without converting the int
#: (and not ``-x``, which turns -0 into 0); a long's ``x * 1`` is ``x`` itself, skipped.
_ONE, _MINUS = Decimal(1), Decimal(-1)
_LONG, _SHORT = Side.LONG, Side.SHORT
#: The last two prices ``decimal_price`` converted (or was told of: ``remember_price``), each
#: with its Decimal, newest first (one tuple: swapped atomically).
_last_price: tuple[object, Decimal, object, Decimal] = (None, ZERO, None, ZERO)
#: The inputs and results of the last ``set_isolated_margin`` (one tuple: swapped atomically).
_margin_memo: tuple[object, ...] = (None, None, None, None, None, ZERO, ZERO)


@dataclass(slots=True)
class FillEffect:
    """What one fill did: ``closed`` is the position as it was when it went flat."""

    realized_gross: Decimal
    opened: bool
    closed: Position | None


#: The effects of a fill that opens or adds to a position: shared, never mutated.
_OPENED = FillEffect(ZERO, True, None)
_ADDED = FillEffect(ZERO, False, None)


def unrealized(pos: Position, last: float | Decimal | None) -> Decimal | None:
    """Mark-to-last P&L of one position, gross of the exit fee (as exchanges show it); None
    without a price. The one rule behind the desk's equity, the panes and the close dialog."""
    if not last:
        return None
    pnl = (decimal_price(last) - pos.entry_price) * pos.qty
    return pnl if pos.side is _LONG else pnl * _MINUS


def decimal_price(last: float | Decimal) -> Decimal:
    """``Decimal(str(last))`` of a last price, kept for the two float objects converted last:
    within a bar the equity (several times) and the paper venue's margin check ask for the
    same one. Identity, not ==: the memo holds ``last``, so its id cannot be reused."""
    global _last_price
    memo = _last_price
    if last is memo[0]:
        return memo[1]
    if last is memo[2]:
        return memo[3]
    price = Decimal(str(last))
    _last_price = (last, price, memo[0], memo[1])
    return price


def remember_price(last: float, price: Decimal) -> None:
    """``price`` is ``Decimal(str(last))``, converted by the caller (the risk engine's entry
    price, which is the bar's close): the paper venue's margin check of that entry asks
    ``decimal_price`` for the very same float next. Two are kept, so this does not push out
    the last price an equity figure converted."""
    global _last_price
    memo = _last_price
    if last is not memo[0]:
        _last_price = (last, price, memo[0], memo[1])


def liquidation_price(
    side: Side, qty: Decimal, entry: Decimal, margin: Decimal, mmr: Decimal, cum: Decimal
) -> Decimal:
    """Binance isolated liquidation price, one-way mode (BINANCE.md):

    ``LP = (WB + cum − Side·Q·EP) / (Q·MMR − Side·Q)``; 0 when no liquidation is possible.
    """
    s = _ONE if side is _LONG else _MINUS
    denom = qty * mmr - s * qty
    if qty <= ZERO or denom == ZERO:  # Decimal against Decimal: no int converted
        return ZERO
    lp = (margin + cum - s * qty * entry) / denom
    return lp if lp > ZERO else ZERO


def set_isolated_margin(pos: Position, spec: SymbolSpec) -> None:
    """Isolated margin (notional / leverage) and the liquidation price it implies, with the
    maintenance rate of the bracket the position's notional falls in (a large position is
    liquidated sooner than the first bracket alone would say)."""
    global _margin_memo
    side, qty, entry, lev = pos.side, pos.qty, pos.entry_price, pos.leverage
    memo = _margin_memo
    # The venue's books and the desk's apply the same fill: the second finds the very same
    # Decimal objects (identity, not ==, which would ignore the exponent) and reuses the work.
    if memo[1] is qty and memo[2] is entry and memo[0] is side and memo[3] is lev \
            and memo[4] is spec:
        pos.margin, pos.liquidation_price = memo[5], memo[6]
        return
    notional = qty * entry
    pos.margin = margin = notional / lev
    mmr, cum = spec.maintenance(notional)
    pos.liquidation_price = lp = liquidation_price(side, qty, entry, margin, mmr, cum)
    _margin_memo = (side, qty, entry, lev, spec, margin, lp)


class PositionBook:
    """Positions by symbol; apply fills in order and read back what changed."""

    __slots__ = ("_opened", "positions")

    def __init__(self) -> None:
        self.positions: dict[str, Position] = {}
        self._opened: dict[str, int] = {}  # client id -> positions it opened so far

    def opening_id(self, client_id: str) -> str:
        """The id of the position a fill of order ``client_id`` would open: the order's
        client id, suffixed when the same order already opened one (an entry filled in part,
        closed, then filled the rest) so two trades never share a story."""
        n = self._opened.get(client_id, 0)
        return client_id if n == 0 or not client_id else f"{client_id}.{n + 1}"

    def get(self, symbol: str) -> Position | None:
        return self.positions.get(symbol)

    def apply(self, fill: Fill, leverage: int = 1, strategy: str = "") -> FillEffect:
        """Apply a fill; a fill larger than the position flips it (one-way mode).

        Runs twice per fill on a paper desk (venue and desk books), so it reads each field
        once and returns a shared effect when nothing was realised."""
        symbol = fill.symbol
        pos = self.positions.get(symbol)
        buy = fill.side == "BUY"
        qty, price = fill.qty, fill.price
        if pos is None:
            cid = fill.client_id
            position_id = self.opening_id(cid)
            self._opened[cid] = self._opened.get(cid, 0) + 1
            # Positional (a class called with keywords packs them into a dict): symbol, side,
            # qty, entry_price, leverage, opened_ts, margin, liquidation_price, stop_loss,
            # take_profit, strategy, fees, funding, risk_amount, peak_qty, exit_qty,
            # exit_notional, realized_gross, position_id.
            self.positions[symbol] = Position(
                symbol, _LONG if buy else _SHORT, qty, price, leverage, fill.ts, ZERO, ZERO,
                None, None, strategy, fill.fee, ZERO, ZERO, qty, ZERO, ZERO, ZERO, position_id)
            return _OPENED
        long = pos.side is _LONG
        held = pos.qty
        if buy == long:
            total = held + qty
            pos.entry_price = (pos.entry_price * held + price * qty) / total
            pos.qty = total
            if total > pos.peak_qty:
                pos.peak_qty = total
            pos.fees += fill.fee
            return _ADDED
        closing = qty if qty < held else held  # min(held, qty): held when equal
        gross = (price - pos.entry_price) * closing
        if not long:
            gross = gross * _MINUS
        closing_fee = fill.fee * closing / qty
        pos.qty = held - closing
        pos.realized_gross += gross
        pos.exit_qty += closing
        pos.exit_notional += price * closing
        pos.fees += closing_fee
        if pos.qty > ZERO:
            return FillEffect(gross, False, None)
        del self.positions[symbol]
        rest = qty - closing
        if rest > ZERO:
            flipped = Fill(
                fill.client_id,
                symbol,
                fill.side,
                rest,
                price,
                fill.fee - closing_fee,
                fill.ts,
                fill.liquidity,
                fill.role,
                fill.seq,
                fill.trade_id,
            )
            self.apply(flipped, leverage, strategy)
        return FillEffect(gross, False, pos)


def round_trip(pos: Position, fill: Fill, reason: str, price_step: Decimal) -> RoundTrip:
    """The closed trade ``pos`` became with ``fill``: average exit, net of fees and funding."""
    exit_px = pos.exit_notional / pos.exit_qty if pos.exit_qty else fill.price
    gross, fees, funding = pos.realized_gross, pos.fees, pos.funding
    # Positional, in RoundTrip's field order (symbol, side, qty, entry_price, exit_price,
    # entry_ts, exit_ts, gross_pnl, fees, funding, pnl, strategy, reason, risk_amount, id,
    # position_id): one per trade, and keywords would be packed into a dict first.
    return RoundTrip(pos.symbol, pos.side, pos.peak_qty, pos.entry_price,
                     exit_px.quantize(price_step), pos.opened_ts, fill.ts, gross, fees, funding,
                     gross - fees + funding, pos.strategy, reason, pos.risk_amount, 0,
                     pos.position_id)
