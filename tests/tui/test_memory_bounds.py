"""Everything the desk keeps is bounded (bench/desk_memory.py measures the RSS it buys).

Cheap checks of the containers themselves; no timing, no RSS figures.
"""

from __future__ import annotations

import random

from tapedesk.engine.equity_history import EquityHistory
from tapedesk.engine.metrics import compute_metrics
from tapedesk.tui.app import make_app
from tapedesk.tui.explain_log import ExplainLog
from tapedesk.tui.render_caches import LOG_CACHES, TABLE_CACHES
from tapedesk.tui.trade_history import TradeHistory
from textual.app import App, ComposeResult

from tests.tui.helpers import ready
from tests.tui.test_panes import _trip


def test_equity_history_is_bounded_and_keeps_peaks_troughs_and_the_recent_half():
    rng = random.Random(7)
    eq, points = 10_000.0, []
    for i in range(50_000):
        eq += rng.gauss(0, 5)
        points.append((i * 900_000, eq))
    hist = EquityHistory(cap=1_000)
    for p in points:
        hist.append(p)
    assert len(hist) <= 1_000 and hist.thinned == len(points) - len(hist)
    kept = list(hist)
    assert max(v for _, v in kept) == max(v for _, v in points)
    assert min(v for _, v in kept) == min(v for _, v in points)
    assert kept[-400:] == points[-400:]  # the newest stay at full resolution
    assert [t for t, _ in kept] == sorted(t for t, _ in kept)  # still in time order
    assert hist[-1] == points[-1] and hist[-3:] == points[-3:]


def test_equity_history_below_its_cap_is_exact_for_metrics():
    points = [(i * 60_000, 10_000 + (i % 13) - i * 0.01) for i in range(5_000)]
    hist = EquityHistory(points)
    assert hist == points and hist.thinned == 0
    assert compute_metrics([], hist, 10_000.0, 0, 0) == compute_metrics([], points, 10_000.0,
                                                                         0, 0)


class _Panes(App):
    def compose(self) -> ComposeResult:
        yield TradeHistory(max_rows=200)
        yield ExplainLog(max_lines=50, history=100)


async def test_table_and_log_render_caches_stay_small_however_many_rows_pass():
    app = _Panes()
    async with app.run_test(size=(160, 48)) as pilot:
        table, log = app.query_one(TradeHistory), app.query_one(ExplainLog)
        assert table.caches_missing == [] and log.caches_missing == []
        for n in range(60):  # every added row renders the table again under new cache keys
            table.add_trips([_trip(n * 10 + i) for i in range(10)])
            await pilot.pause()
        assert table.row_count == 200
        for name, size in TABLE_CACHES.items():
            assert len(getattr(table, name)) <= size, name
        for name, size in LOG_CACHES.items():
            assert len(getattr(log, name)) <= size, name


async def test_real_engine_keeps_a_bounded_equity_history(desk_engine):
    app = make_app(desk_engine, bell=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert isinstance(desk_engine.equity_samples, EquityHistory)
        assert isinstance(app.engine.equity_curve(), list)
