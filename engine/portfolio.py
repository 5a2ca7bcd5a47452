"""The desk's own books (DESIGN.md "Portfolio"): positions, wallet, fees, funding, trades.

Fills and funding change money here and nowhere else in the engine; the paper venue keeps
its own books with the same ``PositionBook`` so both always agree.
"""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.events import Fill, Position, RoundTrip
from tapedesk.engine.positions import (
    FillEffect,
    PositionBook,
    round_trip,
    set_isolated_margin,
    unrealized,
)
from tapedesk.engine.symbols import SymbolSpec

_ZERO = Decimal(0)


class Portfolio:
    __slots__ = ("_price_step", "balance", "book", "fees_total", "funding_total",
                 "next_trade_id", "trades")

    def __init__(self, balance: Decimal) -> None:
        self.book = PositionBook()
        self.balance = Decimal(balance)
        self.fees_total = Decimal(0)
        self.funding_total = Decimal(0)
        self.trades: list[RoundTrip] = []
        self.next_trade_id = 1  # after a restart: one past the journal's last (checkpoint.py)
        self._price_step: tuple[SymbolSpec | None, Decimal] = (None, _ZERO)  # see close

    def fill(self, fill: Fill, leverage: int, strategy: str, spec: SymbolSpec) -> FillEffect:
        effect = self.book.apply(fill, leverage, strategy)
        pos = self.book.positions.get(fill.symbol)
        if pos is not None:
            set_isolated_margin(pos, spec)
        self.balance += effect.realized_gross - fill.fee
        self.fees_total += fill.fee
        return effect

    def funding(self, symbol: str, amount: Decimal) -> None:
        """A funding payment, signed from the account's point of view."""
        self.balance += amount
        self.funding_total += amount
        pos = self.book.positions.get(symbol)
        if pos is not None:
            pos.funding += amount

    def close(self, pos: Position, fill: Fill, reason: str, spec: SymbolSpec) -> RoundTrip:
        seen, step = self._price_step  # an exit's average is kept to 1/100 tick
        if seen is not spec:
            step = spec.tick_size / 100
            self._price_step = (spec, step)
        trip = round_trip(pos, fill, reason, step)
        trip.id, self.next_trade_id = self.next_trade_id, self.next_trade_id + 1
        self.trades.append(trip)
        return trip

    def unrealized(self, prices: dict[str, float]) -> Decimal:
        positions = self.book.positions
        if not positions:  # asked for on every signal: flat is the common case
            return _ZERO
        total = _ZERO
        for p in positions.values():
            pnl = unrealized(p, prices.get(p.symbol))
            if pnl is not None:
                total += pnl
        return total
