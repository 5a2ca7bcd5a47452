"""Each strategy through its handlers on the real data, with results checked in.

These numbers are not targets, they are a tripwire: any change in a strategy's behaviour
moves them, and the diff of this file then says so in review. Regenerate deliberately.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest
from tapedesk.engine.events import Depth, Quote
from tapedesk.engine.strategy import available, create

from tests.strategies import realdata

BAR_CASES = {
    # (name, params): (signals, longs, shorts, first three signal close times)
    ("liquidity_sweep", ()): (676, 338, 338, [1641002039999, 1641007559999, 1641022979999]),
    ("liquidity_sweep", (("timeframe", "15m"),)): (
        51,
        26,
        25,
        [1641051899999, 1641099599999, 1641140099999],
    ),
    ("liquidity_sweep", (("timeframe", "5m"), ("confirm_bars", 5))): (
        83,
        35,
        48,
        [1641054959999, 1641075419999, 1641140279999],
    ),
    ("mean_reversion", ()): (314, 160, 154, [1640997779999, 1640999879999, 1641010559999]),
    ("grid", ()): (8550, 4303, 4247, [1641006719999, 1641006779999, 1641007019999]),
}


def _bar_signals(name, params, bars):
    s = create(name, **dict(params))
    return [x for b in bars if (x := s.on_bar(b)) is not None]


@pytest.mark.parametrize(("case", "expected"), BAR_CASES.items(), ids=lambda v: str(v))
def test_bar_strategy_on_the_real_month_is_deterministic(bars_1m, case, expected):
    name, params = case
    sigs = _bar_signals(name, params, bars_1m)
    sides = Counter(x.side.value for x in sigs)
    assert (len(sigs), sides["long"], sides["short"], [x.ts for x in sigs[:3]]) == expected
    for x in sigs:  # every signal explains itself and respects the stop band
        assert x.reasons and all(r.strip() for r in x.reasons)
        if x.stop_loss:
            assert 0.0015 - 1e-9 <= abs(x.entry - x.stop_loss) / x.entry <= 0.0035 + 1e-9


def test_ema_cross_on_the_real_month_produces_signals_with_reasons(bars_1m):
    if "ema_cross" not in available():
        pytest.skip("ema_cross (the lead's reference strategy) is not in this tree yet")
    sigs = _bar_signals("ema_cross", (), bars_1m)
    assert sigs and all(x.reasons for x in sigs)


STREAM_CASES = {
    "BTC": (realdata.USDM_BTC, ["short", "short", "long", "short", "short", "long", "short"]),
    "ETH": (realdata.USDM_ETH, ["short", "long", "long", "short"]),
}


@pytest.mark.parametrize("which", STREAM_CASES)
def test_book_imbalance_on_the_real_usdm_captures_is_deterministic(which):
    path, expected_sides = STREAM_CASES[which]
    if not path.exists():
        pytest.skip(f"stream capture not found at {path}")
    s = create("book_imbalance")
    sigs = []
    for ev in realdata.load_stream(path):
        if isinstance(ev, Quote):
            out = s.on_quote(ev)
            if out is not None:
                sigs.append(out)
        elif isinstance(ev, Depth):
            s.on_depth(ev)
    assert [x.side.value for x in sigs] == expected_sides
    gaps = [b.ts - a.ts for a, b in pairwise(sigs)]
    assert all(g >= 30_000 for g in gaps)  # the cooldown holds on real data
