"""The day book on its own: roll at the configured hour, load from a journal row, lock once."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.config import RiskConfig
from tapedesk.engine.day_book import DayBook

from tests.engine_units._helpers import DAY, HOUR, T0


def test_the_first_roll_opens_the_day_and_the_next_roll_is_the_following_midnight():
    days = DayBook(RiskConfig())
    assert days.roll(T0 + 5 * HOUR)
    assert days.counters.day == "2024-01-01" and days.next_roll == T0 + DAY
    assert not days.roll(T0 + 23 * HOUR)  # same day: nothing reset


def test_a_roll_resets_every_counter_and_the_lock():
    days = DayBook(RiskConfig(max_trades_per_day=1))
    days.roll(T0)
    days.trade_opened()
    assert days.lock_if_reached().startswith("max trades per day reached")
    assert days.roll(T0 + DAY)
    c = days.counters
    assert (c.day, c.trades, c.losses, c.realized_pnl, c.locked) == ("2024-01-02", 0, 0, 0, False)


def test_the_day_rolls_at_the_configured_hour():
    days = DayBook(RiskConfig(day_roll_hour_utc=8))
    days.roll(T0 + 7 * HOUR)
    assert days.counters.day == "2023-12-31" and days.next_roll == T0 + 8 * HOUR


def test_todays_counters_come_back_from_the_journal_row():
    days = DayBook(RiskConfig())
    days.load(T0 + HOUR, (3, 2, "-41.5", "6.25", 1, "daily loss cap reached"))
    c = days.counters
    assert (c.day, c.trades, c.losses, c.realized_pnl, c.fees, c.locked, c.lock_reason) == (
        "2024-01-01", 3, 2, Decimal("-41.5"), Decimal("6.25"), True, "daily loss cap reached")
    assert days.record()[1] == ("2024-01-01", 3, 2, "-41.5", "6.25", 1, "daily loss cap reached")


def test_money_fees_and_losses_are_counted_and_the_lock_says_why_only_once():
    days = DayBook(RiskConfig(daily_loss_cap=Decimal(50)))
    days.roll(T0)
    days.realized(Decimal(-45), Decimal(5))
    days.trade_closed(Decimal(-50))
    c = days.counters
    assert (c.realized_pnl, c.fees, c.losses) == (Decimal(-50), Decimal(5), 1)
    assert days.lock_if_reached() == "daily loss cap reached: day P&L -$50.00 against a loss cap of -$50.00"
    assert days.lock_if_reached() == ""  # already locked: not announced twice
