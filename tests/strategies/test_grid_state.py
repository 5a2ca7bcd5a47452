"""grid's per-symbol state: what it works out once per grid (step, break levels, the last
close's level index) is never saved, so a checkpoint keeps its layout, and a grid restored
mid-run signals exactly as one that never stopped."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest
from tapedesk.engine.events import Bar, Side
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategies.grid import _SAVED, Grid, _State


class _Desk:
    """A position book for the grid to read: a position is held for 15 bars after each
    entry, so bars that skip the level arithmetic sit between bars that do it."""

    def __init__(self) -> None:
        self.held = 0
        self.side = Side.LONG

    def position(self, symbol: str) -> object | None:
        return SimpleNamespace(strategy="grid", side=self.side) if self.held else None


def _feed(grid: Grid, desk: _Desk, bars: list) -> list[tuple]:
    out = []
    for bar in bars:
        desk.held = max(0, desk.held - 1)
        sig = grid.on_bar(bar)
        if sig is not None:
            out.append((bar.ts, str(sig.kind), str(sig.side), sig.entry, sig.stop_loss,
                        sig.take_profit, list(sig.reasons)))
            if str(sig.kind) == "entry":
                desk.held, desk.side = 15, sig.side
    return out


def _grid(desk: _Desk) -> Grid:
    grid = Grid(lookback=60)
    grid.ctx = desk  # type: ignore[assignment]
    return grid


def _pooled(bars: list) -> list:
    """The same bars with each close one shared float object per dollar: a close met again
    is the very object the grid kept an index for (it must be of the grid in force)."""
    pool: dict[int, float] = {}
    return [Bar(b.symbol, b.open_ts, b.ts, b.open, b.high, b.low,
                pool.setdefault(round(b.close), float(round(b.close))), b.volume)
            for b in bars]


@pytest.mark.parametrize("pooled", [False, True])
def test_a_grid_restored_mid_run_signals_as_one_that_never_stopped(pooled: bool) -> None:
    bars = list(load_bars(SAMPLE_BARS_1M))[:8_000]
    if pooled:
        bars = _pooled(bars)
    desk = _Desk()
    whole = _feed(_grid(desk), desk, bars)
    assert len(whole) > 100
    for cut in (61, 500, 2_345, 5_001):
        desk = _Desk()
        first = _grid(desk)
        before = _feed(first, desk, bars[:cut])
        st = first._states["BTCUSDT"]
        saved = pickle.dumps({k: v for k, v in vars(first).items() if k != "ctx"})
        again = _grid(desk)
        vars(again).update(pickle.loads(saved))
        restored = again._states["BTCUSDT"]
        assert st.active == restored.active and not hasattr(restored, "step")
        assert before + _feed(again, desk, bars[cut:]) == whole, cut


def test_a_checkpoint_holds_the_slots_it_always_held() -> None:
    assert _SAVED == ("active", "base", "hi", "levels", "lo", "prev_close", "range", "since")
    st = _State(60)
    st.set_grid(100.0, 0.25, 8)
    none, slots = st.__reduce_ex__(pickle.HIGHEST_PROTOCOL)[2]
    assert none is None and tuple(slots) == _SAVED
    st.i_close, st.i_of = 3, 100.75  # the last close's index, of this grid
    st.set_grid(99.0, 0.5, 10)
    assert st.i_of is None and (st.step, st.top, st.bottom) == (0.5, 104.5, 98.5)
    back = pickle.loads(pickle.dumps(st))
    assert (back.active, back.base, back.hi, back.levels) == (True, 99.0, 104.0, 10)
