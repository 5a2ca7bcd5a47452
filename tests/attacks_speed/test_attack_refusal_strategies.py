"""Attacks on the faster signal path's strategy side (branch refusal-path): grid's cached
step/break levels and last close's level index against a grid restored from a checkpoint at
every bar (nothing cached) and against closes that never move; user strategies that keep
and re-arm one Signal object or write its side as text, through a backtest whose lines are
worded at the end."""

from __future__ import annotations

import pickle
import re
from decimal import Decimal
from types import SimpleNamespace
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tapedesk.engine.events import Bar, Side, Signal
from tapedesk.engine.strategies.grid import Grid
from tapedesk.engine.strategy import Strategy


def _feed(grid: Grid, bars: list, hold: int, restore_each_bar: bool) -> list[tuple]:
    """Signals of ``grid`` over ``bars``, a position held ``hold`` bars after each entry
    (bars that skip the level arithmetic); restored from a checkpoint at every bar, the
    grid has nothing cached and works everything out from what a checkpoint holds."""
    desk = SimpleNamespace(held=0, side=Side.LONG)

    def position(_symbol: str) -> object | None:
        return SimpleNamespace(strategy="grid", side=desk.side) if desk.held else None

    grid.ctx = SimpleNamespace(position=position)  # type: ignore[assignment]
    out = []
    for bar in bars:
        if restore_each_bar:
            saved = pickle.dumps({k: v for k, v in vars(grid).items() if k != "ctx"})
            again = Grid(**grid.params)
            vars(again).update(pickle.loads(saved))
            again.ctx = grid.ctx
            grid = again
        desk.held = max(0, desk.held - 1)
        sig = grid.on_bar(bar)
        if sig is not None:
            out.append((bar.ts, str(sig.kind), str(sig.side), sig.entry, sig.stop_loss,
                        sig.take_profit, list(sig.reasons)))
            desk.held, desk.side = (hold, sig.side) if str(sig.kind) == "entry" else (0, Side.LONG)
    return out


# Closes on the grid's levels (100 .. 102, 0.25 % apart from 100), near them, far off them.
_CLOSES = st.one_of(
    st.sampled_from([100.0, 100.25, 100.5, 100.75, 101.0, 102.0, 99.75, 98.0, 103.5,
                     100.2499999, 100.2500001, 95.0]),
    st.floats(94.0, 106.0, allow_nan=False))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_grid_cached_levels_signal_as_a_grid_with_nothing_cached(data):
    fixed = data.draw(st.booleans())
    params = dict(lookback=data.draw(st.integers(2, 6)), min_levels=2, max_levels=40,
                  spacing_pct=data.draw(st.sampled_from([0.25, 0.5, 0.3])))
    if fixed:
        params.update(lower=99.0, upper=102.0)
    closes = data.draw(st.lists(_CLOSES, min_size=4, max_size=40))
    if data.draw(st.booleans()):  # a close met again is the very float object seen before
        pool: dict[float, float] = {}
        closes = [pool.setdefault(c, c) for c in closes]
    wick = data.draw(st.sampled_from([0.0, 0.5, 3.0]))
    bars = [Bar("BTCUSDT", i * 60_000, i * 60_000 + 59_999, c, c + wick, c - wick, c, 1.0)
            for i, c in enumerate(closes)]
    hold = data.draw(st.integers(0, 3))
    cached = _feed(Grid(**params), bars, hold, restore_each_bar=False)
    assert cached == _feed(Grid(**params), bars, hold, restore_each_bar=True)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from([0.3, 0.5, 1.0, 2.0, 3.0]), min_size=3, max_size=30),
       st.booleans())
def test_a_close_that_never_moves_crosses_no_level_whatever_grid_is_set(wicks, one_object):
    """The same close bar after bar (the very float object, as a feed may hand it on) while
    the rolling range, hence the grid's base, keeps moving under it: no level is ever
    crossed, so no signal. A level index kept from an earlier grid would see a crossing."""
    close = 100.0
    bars = [Bar("BTCUSDT", i * 60_000, i * 60_000 + 59_999, close, close + w, close - w,
                close if one_object else float(repr(close)), 1.0)
            for i, w in enumerate(wicks)]
    grid = Grid(lookback=2, spacing_pct=0.25, min_levels=2, max_levels=40)
    assert _feed(grid, bars, 0, restore_each_bar=False) == []


def test_grid_gap_over_several_levels_and_a_close_exactly_on_a_level():
    """A fixed 100-102 grid, 0.5 % apart (levels 100, 100.5, ...): a close exactly on a level
    is that level's index (101.7 -> 101.5 crosses none); a gap down over two levels is one
    long entry at the level just above the close; a gap past the break level (102.5) turns
    the grid off, with no entry."""
    grid = Grid(lower=100.0, upper=102.0, spacing_pct=0.5, min_levels=2)
    bars = [Bar("BTCUSDT", i * 60_000, i * 60_000 + 59_999, c, c, c, c, 1.0)
            for i, c in enumerate([101.7, 101.5, 100.2, 101.0, 104.0])]
    got = _feed(grid, bars, 0, restore_each_bar=False)
    assert [(s[2], s[3], s[5]) for s in got] == [("long", 100.2, 101.0), ("short", 101.0, 100.5)]
    assert "down through grid level 100.5" in got[0][6][0], got[0][6]
    assert not grid._states["BTCUSDT"].active


class _OneSignal(Strategy):
    """A user strategy that hands on one Signal object, written over for each new signal
    (nothing in docs/strategies.md forbids it; a live desk words every line at once)."""

    name = "one_signal"
    PARAMS: ClassVar[dict] = {}

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: object) -> None:
        super().__init__(symbols, **params)
        self.sig: Signal | None = None
        self.n = 0

    def on_bar(self, bar: Bar) -> Signal | None:
        self.n += 1
        if self.n % 7:
            return None
        side = Side.LONG if self.n % 14 else Side.SHORT
        stop = bar.close * (1 - 0.0025 * side.sign)
        if self.sig is None:
            self.sig = Signal(self.name, bar.symbol, side, bar.ts, bar.close, stop,
                              reasons=["every seventh bar"])
        else:
            sig = self.sig
            sig.side, sig.ts, sig.entry, sig.stop_loss = side, bar.ts, bar.close, stop
        return self.sig


@pytest.mark.parametrize("fixed_qty", [None, Decimal("0.01")])
def test_a_backtest_words_a_reused_signal_as_it_was_when_decided(
        monkeypatch: pytest.MonkeyPatch, fixed_qty: Decimal | None) -> None:
    """A backtest words its kept lines at the end; a strategy's Signal changed since must
    not change them: the lines (and a taken entry's risk amount, worked out when read with
    --fixed-qty) equal those of a desk that words each line at once."""
    from tapedesk.engine.backtest import run_backtest
    from tapedesk.engine.engine import Engine
    from tapedesk.engine.feeds import load_bars
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M

    bars = list(load_bars(SAMPLE_BARS_1M))[:3_000]

    def lines() -> list[tuple]:
        res = run_backtest(bars, [_OneSignal()], fixed_qty=fixed_qty)
        return [(e.ts, str(e.kind), re.sub(r"td-\d{9}", "td-", e.text))
                for e in res.explanations]

    lazy = lines()
    monkeypatch.setattr(Engine, "lazy_explanations",
                        property(lambda self: False, lambda self, value: None), raising=False)
    eager = lines()
    assert sum(1 for line in eager if line[1] == "taken") >= 5
    assert lazy == eager


class _TextSide(Strategy):
    """A user strategy writing its side as text ("long"): Side is a StrEnum, so "long" ==
    Side.LONG, but rule_stop_side now tells sides apart by identity (``is Side.LONG``)."""

    name = "text_side"
    PARAMS: ClassVar[dict] = {}

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: object) -> None:
        super().__init__(symbols, **params)
        self.n = 0

    def on_bar(self, bar: Bar) -> Signal | None:
        self.n += 1
        if self.n % 30:
            return None
        return Signal(self.name, bar.symbol, "long", bar.ts, bar.close,  # type: ignore[arg-type]
                      bar.close * 0.9975, reasons=["every thirtieth bar"])


def test_a_long_signal_with_its_side_as_text_is_vetted_as_a_long() -> None:
    from tapedesk.engine.backtest import run_backtest
    from tapedesk.engine.feeds import load_bars
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M

    res = run_backtest(list(load_bars(SAMPLE_BARS_1M))[:1_500], [_TextSide()])
    said = [e.text for e in res.explanations if str(e.kind) in ("taken", "refused")]
    assert not [t for t in said if "right sides" in t], said[:3]
    assert any(t.startswith("Took long BTCUSDT") for t in said), said[:3]


def test_a_side_that_is_no_side_disables_the_strategy_with_why() -> None:
    from tapedesk.engine.backtest import run_backtest
    from tapedesk.engine.feeds import load_bars
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M

    class _Up(_TextSide):
        name = "up_side"

        def on_bar(self, bar: Bar) -> Signal | None:
            sig = super().on_bar(bar)
            if sig is not None:
                sig.side = "up"  # type: ignore[assignment]
            return sig

    res = run_backtest(list(load_bars(SAMPLE_BARS_1M))[:100], [_Up()])
    errors = [e.text for e in res.explanations if str(e.kind) == "error"]
    assert len(errors) == 1 and "'up' is not a valid Side" in errors[0], errors
    assert res.metrics.trades == 0
