"""One notion of "now": event time for replays, and the risk day's boundaries."""

from __future__ import annotations

import pytest
from tapedesk.engine.clock import EventClock, FixedClock, day_key, day_start, iso, parse_time

from tests.engine_units._helpers import DAY, HOUR, T0


def test_event_clock_follows_event_time_and_never_goes_back():
    clock = EventClock()
    clock.observe(T0 + 5)
    clock.observe(T0 + 2)
    assert clock.now() == T0 + 5


def test_fixed_clock_is_set_by_hand():
    clock = FixedClock()
    clock.set(T0)
    assert clock.now() == T0


@pytest.mark.parametrize(("ts", "key", "start"), [
    (T0 - 1, "2023-12-31", T0 - DAY), (T0, "2024-01-01", T0),
    (T0 + DAY - 1, "2024-01-01", T0), (T0 + DAY, "2024-01-02", T0 + DAY)])
def test_the_risk_day_starts_at_midnight_utc(ts, key, start):
    assert day_key(ts) == key
    assert day_start(ts) == start


@pytest.mark.parametrize(("ts", "key"), [
    (T0 + 8 * HOUR - 1, "2023-12-31"), (T0 + 8 * HOUR, "2024-01-01"),
    (T0 + DAY + 7 * HOUR, "2024-01-01"), (T0 + DAY + 8 * HOUR, "2024-01-02")])
def test_the_risk_day_starts_at_the_configured_hour(ts, key):
    assert day_key(ts, 8) == key


def test_day_start_with_a_roll_hour_is_that_hour():
    assert day_start(T0 + 9 * HOUR, 8) == T0 + 8 * HOUR
    assert day_start(T0 + 7 * HOUR, 8) == T0 - DAY + 8 * HOUR


@pytest.mark.parametrize("text", ["2024-01-01", "2024-01-01 00:00", "2024-01-01T00:00:00",
                                  str(T0)])
def test_parse_time_reads_utc_dates_and_epoch_ms(text):
    assert parse_time(text) == T0


def test_parse_time_names_the_accepted_formats_on_bad_input():
    with pytest.raises(ValueError, match=r"YYYY-MM-DD\[ HH:MM\[:SS\]\] \(UTC\) or epoch ms"):
        parse_time("yesterday")


def test_iso_is_human_utc():
    assert iso(T0 + 8 * HOUR + 1500) == "2024-01-01 08:00:01"
