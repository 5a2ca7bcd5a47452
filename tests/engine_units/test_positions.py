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


def test_every_field_of_an_opened_position_and_its_round_trip_is_the_named_one():
    """positions.py builds both positionally (speed): each value must land in its field,
    whatever order events.py lists them in."""
    from dataclasses import asdict

    from tapedesk.engine.positions import round_trip

    book = PositionBook()
    book.apply(Fill("e1", ETH, "SELL", Decimal(2), Decimal(100), Decimal("0.1"), 7,
                    Liquidity.TAKER, OrderRole.ENTRY), leverage=5, strategy="s")
    pos = book.get(ETH)
    assert asdict(pos) == {
        "symbol": ETH, "side": Side.SHORT, "qty": 2, "entry_price": 100, "leverage": 5,
        "opened_ts": 7, "margin": 0, "liquidation_price": 0, "stop_loss": None,
        "take_profit": None, "strategy": "s", "fees": Decimal("0.1"), "funding": 0,
        "risk_amount": 0, "peak_qty": 2, "exit_qty": 0, "exit_notional": 0,
        "realized_gross": 0, "position_id": "e1"}
    pos.funding, pos.risk_amount = Decimal("-0.3"), Decimal(4)
    exit_fill = Fill("x1", ETH, "BUY", Decimal(2), Decimal(95), Decimal("0.2"), 9,
                     Liquidity.TAKER, OrderRole.EXIT)
    closed = book.apply(exit_fill).closed
    assert closed is not None
    trip = round_trip(closed, exit_fill, "strategy exit", Decimal("0.001"))
    assert asdict(trip) == {
        "symbol": ETH, "side": Side.SHORT, "qty": 2, "entry_price": 100, "exit_price": 95,
        "entry_ts": 7, "exit_ts": 9, "gross_pnl": 10, "fees": Decimal("0.3"),
        "funding": Decimal("-0.3"), "pnl": Decimal("9.4"), "strategy": "s",
        "reason": "strategy exit", "risk_amount": 4, "id": 0, "position_id": "e1"}
