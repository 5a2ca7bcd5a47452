"""The hot path keeps the bar handlers in their own attribute (engine.process reads it
without a lookup): disabling, re-enabling or a strategy raising must reach it at once, or a
disabled strategy would still trade (or an enabled one stay deaf)."""

from __future__ import annotations

import asyncio

from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import Bar
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.strategy import Strategy

T0 = 1_700_000_000_000


class Counting(Strategy):
    name = "counting"

    def __init__(self) -> None:
        super().__init__(("BTCUSDT",))
        self.seen = 0
        self.fail = False

    def on_bar(self, bar: Bar) -> None:
        self.seen += 1
        if self.fail:
            raise RuntimeError("boom")


def _bar(i: int) -> Bar:
    return Bar("BTCUSDT", T0 + i * 60_000, T0 + (i + 1) * 60_000 - 1, 100.0, 101.0, 99.0, 100.5)


def test_bar_handlers_follow_enable_disable_and_a_failure() -> None:
    cfg = DeskConfig()
    strat = Counting()
    eng = Engine(config=cfg, venue=PaperVenue(), strategies=[strat])
    eng.process(_bar(0))
    assert strat.seen == 1
    asyncio.run(eng.set_strategy_enabled("counting", False))
    eng.process(_bar(1))
    assert strat.seen == 1, "a disabled strategy was still given bars"
    asyncio.run(eng.set_strategy_enabled("counting", True))
    eng.process(_bar(2))
    assert strat.seen == 2, "a re-enabled strategy was not given bars"
    strat.fail = True
    eng.process(_bar(3))  # raises: disabled by the engine
    eng.process(_bar(4))
    assert strat.seen == 3, "a strategy that raised was still given bars"
    assert any("raised RuntimeError" in e.text for e in eng.recent)
