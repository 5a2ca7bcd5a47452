"""A saved result's trade times: the per-day formatter writes exactly clock.iso's text."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st
from tapedesk.engine.clock import iso
from tapedesk.engine.trade_json import _iso_by_day

DAY = 86_400_000


@given(st.integers(min_value=-62_000_000_000_000, max_value=250_000_000_000_000))
def test_same_text_as_iso(ts: int) -> None:
    assert _iso_by_day()(ts) == iso(ts)


def test_many_times_one_formatter() -> None:
    """One formatter reused (its date cache warm) over day edges and random times."""
    text = _iso_by_day()
    rng = random.Random(7)
    stamps = [d * DAY + off for d in (-1, 0, 18_993, 19_000, 20_000)
              for off in (0, 1, 999, 1000, 59_999, 3_599_999, DAY - 1)]
    stamps += [rng.randrange(0, 4_000_000_000_000) for _ in range(2000)]
    for ts in stamps:
        assert text(ts) == iso(ts), ts
