"""ema_cross's on_bar (float constants, the branching cross test) against the rule its
docstring states, written out plainly: EMAs seeded with the first close, a cross is a change
of the sign of ``fast - slow`` (``> 0`` or not: a NaN counts as "not above"), ``fast ==
slow`` keeps the last sign, nothing before bar index ``slow``; ``stop_pct=0`` gives no stop or
target. With no positions every cross is an entry on the new side; ``reverse`` does not
change that. Closes with ties, NaN, zero and huge values."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine.events import Bar, Side
from tapedesk.engine.strategies.ema_cross import EmaCross

closes = st.sampled_from([100.0, 100.0, 100.0, 101.0, 99.0, 100.5, 0.0, float("nan"),
                          1e300, -1e300, 7, 100])  # ints too: a feed may hand them over


def _reference(cl: list[float], fast: int, slow: int) -> list[tuple[int, Side]]:
    af, asl = 2.0 / (fast + 1.0), 2.0 / (slow + 1.0)
    out: list[tuple[int, Side]] = []
    f = s = None
    last_above = False  # the seed's sign: diff 0.0 is "not above"
    for k, c in enumerate(cl):
        if f is None:
            f = s = c
        else:
            f = f + af * (c - f)
            s = s + asl * (c - s)
        d = f - s
        if d == 0:
            continue
        above = d > 0
        if above != last_above and k >= slow:
            out.append((k, Side.LONG if above else Side.SHORT))
        last_above = above
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(closes, max_size=60), st.integers(1, 3), st.integers(1, 4), st.booleans(),
       st.sampled_from([0.0, 0.25]))
def test_on_bar_is_the_stated_cross_rule(cl: list[float], fast: int, extra: int,
                                         reverse: bool, stop: float) -> None:
    slow = fast + extra
    strat = EmaCross(None, fast=fast, slow=slow, reverse=reverse, stop_pct=stop)
    got = []
    for k, c in enumerate(cl):
        sig = strat.on_bar(Bar("BTCUSDT", k * 60_000, k * 60_000 + 59_999, c, c, c, c, 1.0))
        if sig is not None:
            got.append((k, sig.side))
            if not math.isfinite(c) or abs(c) > 1e200:
                pass  # (NaN: the feeds refuse such a close; here only the side is checked)
            elif stop == 0.0 or not c:
                assert not sig.stop_loss and not sig.take_profit  # (0.0: none)
            else:
                assert (sig.stop_loss < c < sig.take_profit) == (sig.side is Side.LONG)
    assert got == _reference(cl, fast, slow)
