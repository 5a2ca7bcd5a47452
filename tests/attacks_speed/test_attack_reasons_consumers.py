"""A signal's reasons may now be a ``Reasons`` (worded when read), not a list. Code that
serialises a Signal the usual ways (``dataclasses.asdict`` then ``json.dumps(...,
default=str)``, copy, pickle) must still see a list of the same sentences, never the
text of a repr ("['EMA9 ... crossed ...']") in place of a JSON array."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle

from tapedesk.engine.feeds import load_bars
from tapedesk.engine.reasons import Reasons
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import create


def _lazy_signals() -> list:
    bars = load_bars(SAMPLE_BARS_1M)[:3000]
    out = []
    for name in ("ema_cross", "grid", "liquidity_sweep"):
        strat = create(name)
        sigs = [s for s in map(strat.on_bar, bars) if s is not None]
        lazy = [s for s in sigs if isinstance(s.reasons, Reasons)]
        assert lazy, name
        out.append(lazy[0])
    return out


def test_serialised_signals_carry_their_reasons_as_a_list() -> None:
    for sig in _lazy_signals():
        words = list(sig.reasons)
        assert words and all(isinstance(w, str) for w in words)
        doc = json.loads(json.dumps(dataclasses.asdict(sig), default=str))
        assert doc["reasons"] == words
        assert pickle.loads(pickle.dumps(sig)).reasons == words
        assert copy.deepcopy(sig).reasons == words and copy.copy(sig).reasons == words
        assert dataclasses.replace(sig).reasons == words
