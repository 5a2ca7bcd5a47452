"""Reasons worded when first read (engine/reasons.py) and grid's RollingRange: the text and
the numbers must be exactly those of wording at once and of RollingMax/RollingMin."""

from __future__ import annotations

import json
import pickle
import random

from tapedesk.engine.events import Decision, Side, Signal
from tapedesk.engine.explanations import taken
from tapedesk.engine.indicators import RollingMax, RollingMin
from tapedesk.engine.reasons import Reasons
from tapedesk.engine.records import decision_record
from tapedesk.engine.rolling_range import RollingRange
from tapedesk.engine.strategies.grid import _State
from tapedesk.engine.strategy import create


def _grid_signals(bars, read_at_once: bool):
    s = create("grid", lookback=60, spacing_pct=0.1)
    out = []
    for b in bars:
        sig = s.on_bar(b)
        if sig is not None:
            out.append((sig, tuple(sig.reasons) if read_at_once else None))
    return out, len(s.drain_notes())


def test_grid_reasons_read_late_are_those_read_at_once(bars_1m) -> None:
    """A signal's words come from the numbers it was made with, not from the grid's state
    when somebody reads them (the grid re-anchors many times in the month)."""
    at_once, anchors = _grid_signals(bars_1m, read_at_once=True)
    late, anchors_late = _grid_signals(bars_1m, read_at_once=False)
    assert len(at_once) > 1000 and anchors > 50  # many grids, many signals: a real check
    assert anchors_late == anchors and len(late) == len(at_once)
    for (sig, words), (late_sig, _) in zip(at_once, late, strict=True):
        assert isinstance(sig.reasons, Reasons)  # the lazy kind really was exercised
        assert tuple(late_sig.reasons) == words
        assert (late_sig.ts, late_sig.entry, late_sig.stop_loss) == (sig.ts, sig.entry,
                                                                     sig.stop_loss)
    first = at_once[0][1]
    assert first[0].startswith("Closed ") and " through grid level " in first[0]
    assert first[1].startswith("target next level ") and first[2].startswith("stop ")


def test_sweep_reasons_read_late_are_those_read_at_once(bars_1m) -> None:
    """The regime's words come from its numbers at the signal, not from the regime later."""
    def run(read_at_once: bool):
        s = create("liquidity_sweep", with_trend_only=0)
        out = []
        for b in bars_1m:
            sig = s.on_bar(b)
            if sig is not None:
                out.append((sig, tuple(sig.reasons) if read_at_once else None))
        return out

    at_once, late = run(True), run(False)
    assert len(at_once) > 100 and len(late) == len(at_once)
    assert {w[1].split(" regime")[0] for _, w in at_once} >= {"range", "trend up", "trend down"}
    for (_, words), (late_sig, _) in zip(at_once, late, strict=True):
        assert isinstance(late_sig.reasons, Reasons) and tuple(late_sig.reasons) == words


def _words(a: float, b: str) -> list[str]:
    _words.calls += 1  # type: ignore[attr-defined]
    return [f"first {a:.1f}", f"second {b}", "third"]


def test_reasons_read_like_the_list_they_stand_for() -> None:
    _words.calls = 0  # type: ignore[attr-defined]
    r = Reasons(_words, 1.25, "x")
    assert _words.calls == 0  # nothing worded until read
    want = ["first 1.2", "second x", "third"]
    assert r == want and want == r and r != ["first 1.2"] and r == Reasons(_words, 1.25, "x")
    assert len(r) == 3 and r[0] == "first 1.2" and r[-1] == "third" and r[:2] == want[:2]
    assert "; ".join(r) == "; ".join(want) and list(r) == want and repr(r) == repr(want)
    assert _words.calls == 2  # once per Reasons object (the second one above), cached
    assert pickle.loads(pickle.dumps(r)) == want and type(pickle.loads(pickle.dumps(r))) is list


def test_lazy_reasons_reach_the_journal_and_the_explanation_as_words() -> None:
    def sig(reasons):
        return Signal("grid", "BTCUSDT", Side.LONG, 1, 100.0, 99.0, 102.0, reasons=reasons)

    eager = Decision(sig(["a 1", "b 2"]), True)
    lazy = Decision(sig(Reasons(lambda x: [f"a {x}", "b 2"], 1)), True)
    assert decision_record(lazy) == decision_record(eager)
    assert json.loads(decision_record(lazy)[1][8])["reasons"] == ["a 1", "b 2"]
    assert taken(lazy, 1000, 0.3) == taken(eager, 1000, 0.3)
    assert lazy == eager and repr(lazy) == repr(eager)


def test_rolling_range_equals_rolling_max_and_min_however_often_asked() -> None:
    rnd = random.Random(7)
    for period in (1, 2, 5, 30):
        # whole numbers: many ties, the case where "which bar holds the extreme" matters
        xs = [float(rnd.randint(0, 12)) for _ in range(3000)]
        xs += [100.0 - k for k in range(200)] + [float(k) for k in range(200)]  # trends
        rng, rmax, rmin = RollingRange(period), RollingMax(period), RollingMin(period)
        for k, x in enumerate(xs):
            lo = x - rnd.randint(0, 3)
            rng.update(x, lo)
            want = (rmax.update(x), rmin.update(lo))
            if k % 3 == 0 or rnd.random() < 0.2:  # asked now and then, as grid does
                assert (rng.high(), rng.low()) == want


def test_grid_state_from_an_older_checkpoint_keeps_its_window(bars_1m) -> None:
    """A checkpoint saved before RollingRange held RollingMax/RollingMin: restored into
    the new state, every later answer is what an uninterrupted RollingRange gives."""
    lookback = 60
    for cut in (0, 1, 30, 59, 60, 61, 1000, 1019, 1020):  # before, at and inside a block
        rmax, rmin, fresh = RollingMax(lookback), RollingMin(lookback), RollingRange(lookback)
        for b in bars_1m[:cut]:
            rmax.update(b.high)
            rmin.update(b.low)
            fresh.update(b.high, b.low)
        st = _State.__new__(_State)
        st.__setstate__((None, {"active": False, "base": 0.0, "hi": 0.0, "levels": 0,
                                "lo": 0.0, "prev_close": 1.0, "since": 3, "rmax": rmax,
                                "rmin": rmin}))
        restored = pickle.loads(pickle.dumps(st)).range  # and the new state pickles too
        for b in bars_1m[cut:cut + 300]:
            restored.update(b.high, b.low)
            fresh.update(b.high, b.low)
            assert (restored.high(), restored.low()) == (fresh.high(), fresh.low()), cut
