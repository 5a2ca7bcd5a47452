"""FillMemory forgets fill keys and the books' order->positions counts between slices of
events. Forgetting as often as possible (every few events, whatever is held) must give
the very same run as never forgetting: trades (position ids included), fills, metrics and
the explanations, for fills that arrive slices after their order was sent (latency, a
grid's resting orders), flips, and several strategies sharing one book."""

from __future__ import annotations

import json
import re

import pytest
from tapedesk.engine import backtest
from tapedesk.engine.backtest import FillMemory, run_backtest
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import create

BARS = load_bars(SAMPLE_BARS_1M)[:6000]
CASES = {
    "ema flips, latency": (("ema_cross", {"fast": 2, "slow": 3}),
                           {"no_risk": True, "margin_check": False, "fill_at": "next-open"}),
    "grid resting orders": (("grid", {"lookback": 30}),
                            {"no_risk": True, "margin_check": False}),
    "all strategies": (("all", {}), {"funding_bps": 50.0}),
}


def _run(monkeypatch: pytest.MonkeyPatch, keep: int, every: int, case: str) -> tuple:
    monkeypatch.setattr(FillMemory, "KEEP", keep)
    monkeypatch.setattr(backtest, "PROGRESS_EVERY", every)
    (name, params), options = CASES[case]
    if name == "all":
        strategies = [create(n) for n in ("ema_cross", "grid", "liquidity_sweep",
                                          "mean_reversion")]
    else:
        strategies = [create(name, **params)]
    counts = []
    result = run_backtest(iter(BARS), strategies, DeskConfig(), progress=counts.append,
                          **options)
    doc = result.to_json()
    text = "\n".join([json.dumps(doc), *map(repr, result.trades),
                      *map(repr, result.explanations)])
    # client ids start with the wall clock's ms (orders.py): the same in both runs' terms
    return re.sub(r"td-\d{9}", "td-N", text), result.metrics.fills, counts[-1]


@pytest.mark.parametrize("case", list(CASES))
def test_forgetting_every_few_events_changes_nothing(monkeypatch: pytest.MonkeyPatch,
                                                     case: str) -> None:
    never = _run(monkeypatch, 10**9, 16_384, case)
    often = _run(monkeypatch, 0, 7, case)
    assert never[1] > 20, "the case must fill orders"
    assert often == never
