"""grid writes each grid's level prices once (a memo): its signals must be exactly those of
formatting every price afresh, over a real month with many re-anchored grids."""

from __future__ import annotations

from tapedesk.engine.strategies.wording import price
from tapedesk.engine.strategy import create


def _signals(bars, memo: bool):
    s = create("grid", lookback=60, spacing_pct=0.1)
    if not memo:
        s._text = price  # type: ignore[method-assign]  # every price formatted afresh
    out = []
    for b in bars:
        sig = s.on_bar(b)
        if sig is not None:
            out.append((sig.ts, sig.side, sig.entry, sig.stop_loss, sig.take_profit,
                        tuple(sig.reasons)))
        assert len(s._level_text) <= 256  # bounded however many grids the month makes
    notes = s.drain_notes()
    return out, len(notes)


def test_memo_changes_no_signal(bars_1m) -> None:
    fresh, anchors = _signals(bars_1m, memo=False)
    assert _signals(bars_1m, memo=True) == (fresh, anchors)
    assert len(fresh) > 1000 and anchors > 50  # many grids, many signals: a real check
