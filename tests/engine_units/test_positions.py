"""Net (one-way) position accounting: averaging in, partial closes, full close, flip."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.events import Fill, Liquidity, OrderRole, Side
from tapedesk.engine.positions import PositionBook

ETH = "ETHUSDT"


def fill(side: str, qty: str, price: str, fee: str = "0", ts: int = 1) -> Fill:
    return Fill("c", ETH, side, Decimal(qty), Decimal(price), Decimal(fee), ts, Liquidity.TAKER,
                OrderRole.ENTRY)


def test_first_fill_opens_a_position_with_its_fee():
    book = PositionBook()
    eff = book.apply(fill("BUY", "1", "100", "0.05"), leverage=3, strategy="s")
    pos = book.get(ETH)
    assert eff.opened and eff.closed is None and eff.realized_gross == 0
    assert (pos.side, pos.qty, pos.entry_price, pos.leverage, pos.fees, pos.strategy) == (
        Side.LONG, 1, 100, 3, Decimal("0.05"), "s")


def test_adding_to_a_position_averages_the_entry_by_quantity():
    book = PositionBook()
    book.apply(fill("BUY", "1", "100", "0.05"))
    eff = book.apply(fill("BUY", "3", "104", "0.156"))
    pos = book.get(ETH)
    assert not eff.opened and eff.realized_gross == 0
    assert (pos.qty, pos.entry_price, pos.peak_qty) == (4, Decimal(103), 4)  # (100 + 312) / 4
    assert pos.fees == Decimal("0.206")


def test_a_partial_close_realises_pnl_on_the_closed_part_only():
    book = PositionBook()
    book.apply(fill("BUY", "1", "100"))
    book.apply(fill("BUY", "3", "104"))
    eff = book.apply(fill("SELL", "1", "110", "0.055"))
    pos = book.get(ETH)
    assert eff.realized_gross == Decimal(7) and eff.closed is None  # (110 − 103) × 1
    assert (pos.qty, pos.entry_price, pos.exit_qty, pos.exit_notional) == (3, 103, 1, 110)
    assert pos.realized_gross == 7


def test_closing_the_rest_returns_the_whole_trade_with_running_totals():
    book = PositionBook()
    book.apply(fill("BUY", "4", "103", "0.2"))
    book.apply(fill("SELL", "1", "110", "0.05"))
    eff = book.apply(fill("SELL", "3", "100", "0.15"))
    assert eff.realized_gross == Decimal(-9)  # (100 − 103) × 3
    closed = eff.closed
    assert closed is not None and book.get(ETH) is None
    assert (closed.realized_gross, closed.exit_qty, closed.exit_notional, closed.peak_qty) == (
        Decimal(-2), 4, Decimal(410), 4)
    assert closed.fees == Decimal("0.40")


def test_short_profits_when_price_falls():
    book = PositionBook()
    book.apply(fill("SELL", "2", "100"))
    assert book.get(ETH).side is Side.SHORT
    assert book.apply(fill("BUY", "1", "90")).realized_gross == Decimal(10)
    assert book.get(ETH).qty == 1


def test_a_fill_larger_than_the_position_flips_it_and_splits_the_fee():
    book = PositionBook()
    book.apply(fill("BUY", "3", "103", "0.1"))
    eff = book.apply(fill("SELL", "5", "105", "0.5", ts=9))
    assert eff.realized_gross == Decimal(6)  # (105 − 103) × 3
    assert eff.closed is not None and eff.closed.side is Side.LONG
    assert eff.closed.fees == Decimal("0.4")  # 0.1 entry + 3/5 of 0.5
    new = book.get(ETH)
    assert (new.side, new.qty, new.entry_price, new.opened_ts, new.fees) == (
        Side.SHORT, 2, 105, 9, Decimal("0.2"))
