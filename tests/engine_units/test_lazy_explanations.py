"""A backtest words its explanations only at the end (engine.lazy_explanations): the lines it
returns must be exactly those a desk wording every line at once would show."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from tapedesk.engine.backtest import run_backtest
from tapedesk.engine.engine import Engine
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import create


def _lines(res) -> list[tuple]:
    """Each line's fields; client ids lose their per-process time token (orders.py)."""
    def same(text: str) -> str:
        return re.sub(r"td-\d{9}", "td-", text)
    return [(e.ts, str(e.kind), same(e.text), e.strategy, e.symbol, e.rule, same(e.position_id))
            for e in res.explanations]


def _run():
    bars = list(load_bars(SAMPLE_BARS_1M))[:12_000]
    strategies = [create("ema_cross"), create("grid")]
    return run_backtest(bars, strategies, no_risk=True, fixed_qty=Decimal("0.01"))


def test_lazy_lines_equal_eager_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = _run()
    # The eager desk: every line worded when it happens (the live path), none deferred.
    monkeypatch.setattr(Engine, "lazy_explanations",
                        property(lambda self: False, lambda self, value: None), raising=False)
    eager = _run()
    assert lazy.metrics == eager.metrics
    lines = _lines(lazy)
    assert all(isinstance(line[2], str) for line in lines)
    kinds = {line[1] for line in lines}
    assert {"taken", "fill", "exit"} <= kinds, kinds
    # More lines were made than the 2000 kept: the dropped ones were never worded.
    assert len(lines) == 2000
    assert lines == _lines(eager)


def test_lazy_margin_refusals_equal_eager_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """A drained account: most of grid's entries refused for margin, kept as their fields."""
    from tapedesk.engine.config import DeskConfig

    def run():
        cfg = DeskConfig()
        cfg.paper.initial_balance = Decimal(150)
        bars = list(load_bars(SAMPLE_BARS_1M))[:6_000]
        return run_backtest(bars, [create("grid")], cfg, no_risk=True,
                            fixed_qty=Decimal("0.01"))

    lazy = run()
    monkeypatch.setattr(Engine, "lazy_explanations",
                        property(lambda self: False, lambda self, value: None), raising=False)
    eager = run()
    lines = _lines(lazy)
    refused = [line for line in lines if line[4] == "BTCUSDT" and line[5] == "margin_available"]
    assert len(refused) > 100 and "isolated margin" in refused[-1][2], refused[-1:]
    assert {"taken", "fill"} <= {line[1] for line in lines}
    assert lines == _lines(eager)
