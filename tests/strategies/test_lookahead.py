"""No look-ahead: cutting the data after bar N never changes a signal at or before bar N.

Each strategy is run on the full real month and on truncated copies; the signals up to
each cut must be identical (same time, side, prices and reasons). The higher-timeframe
mode is included: a 15m bar must not be judged before its last minute.
"""

from __future__ import annotations

import pytest
from tapedesk.engine.strategy import create

CUTS = (7_777, 23_456, 31_001)
CASES = [
    ("liquidity_sweep", {}),
    ("liquidity_sweep", {"timeframe": "15m"}),
    ("liquidity_sweep", {"timeframe": "5m", "confirm_bars": 5}),
    ("mean_reversion", {}),
    ("grid", {}),
]


def _run(name, params, bars):
    s = create(name, **params)
    out = []
    for b in bars:
        x = s.on_bar(b)
        if x is not None:
            out.append(
                (x.ts, x.side, x.kind, x.entry, x.stop_loss, x.take_profit, tuple(x.reasons))
            )
    return out


@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}{p or ''}" for n, p in CASES])
def test_truncating_the_data_never_changes_earlier_signals(bars_1m, name, params):
    bars = bars_1m[:35_000]
    full = _run(name, params, bars)
    assert full, "a look-ahead test that sees no signal proves nothing"
    for n in CUTS:
        cut_ts = bars[n].ts
        truncated = _run(name, params, bars[: n + 1])
        assert truncated == [s for s in full if s[0] <= cut_ts], f"cut at bar {n}"


def test_book_imbalance_truncated_stream_never_changes_earlier_signals(usdm_btc_events):
    from tapedesk.engine.events import Depth, Quote

    def run(events):
        s = create("book_imbalance")
        out = []
        for ev in events:
            if isinstance(ev, Quote):
                x = s.on_quote(ev)
                if x is not None:
                    out.append(
                        (x.ts, x.side, x.entry, x.stop_loss, x.take_profit, tuple(x.reasons))
                    )
            elif isinstance(ev, Depth):
                s.on_depth(ev)
        return out

    events = usdm_btc_events
    full = run(events)
    assert full
    for n in (len(events) // 3, len(events) // 2, (len(events) * 4) // 5):
        cut_ts = events[n].ts
        assert run(events[: n + 1]) == [x for x in full if x[0] <= cut_ts]
