"""mean_reversion, grid and book_imbalance on handcrafted data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tapedesk.engine.events import Depth, Position, Quote, Side, SignalKind
from tapedesk.engine.strategy import StrategyError, create

from tests.strategies.bars import MIN, bar, flat, utc_ms

T0 = utc_ms("2024-01-02 00:00")


class FakeCtx:
    """The engine's read-only view: a position (or none) and the time."""

    def __init__(self, pos: Position | None = None) -> None:
        self.pos = pos

    def position(self, symbol: str) -> Position | None:
        return self.pos

    def now(self) -> int:
        return 0


def _pos(side: Side, strategy: str) -> Position:
    return Position("BTCUSDT", side, Decimal(1), Decimal(100), 5, 0, strategy=strategy)


# -- mean_reversion -------------------------------------------------------------------------
def _stretch_down():
    bars = flat(T0, 300, 100.0, wiggle=0.1)
    price = 100.0
    for i in range(6):  # six falling closes: RSI collapses, close leaves the lower band
        price -= 0.2
        bars.append(bar(T0 + (300 + i) * MIN, price + 0.2, price + 0.22, price - 0.02, price))
    return bars


def test_close_below_lower_band_with_low_rsi_is_a_long_to_the_middle_band():
    s = create("mean_reversion")
    sigs = [x for b in _stretch_down() if (x := s.on_bar(b))]
    assert sigs and sigs[0].side is Side.LONG
    sig = sigs[0]
    assert "below the lower band" in sig.reasons[0] and "RSI" in sig.reasons[0]
    assert sig.take_profit > sig.entry > sig.stop_loss
    assert 0.0015 - 1e-12 <= (sig.entry - sig.stop_loss) / sig.entry <= 0.0035
    assert sig.reasons[-1].startswith("target middle band")


def test_quiet_market_is_not_faded_and_the_note_says_why():
    s = create("mean_reversion", min_atr_pct=1.0)
    assert [x for b in _stretch_down() if (x := s.on_bar(b))] == []
    assert "too quiet to pay fees" in s.drain_notes()[-1][2]


def test_holding_our_position_a_cross_of_the_middle_band_emits_exit():
    s = create("mean_reversion")
    bars = _stretch_down()
    for b in bars:
        s.on_bar(b)
    s.on_start(FakeCtx(_pos(Side.LONG, "mean_reversion")))
    out = s.on_bar(bar(bars[-1].ts + 1, 99.6, 100.5, 99.6, 100.5))
    assert out is not None and out.kind is SignalKind.EXIT and out.side is Side.LONG
    assert "middle band" in out.reasons[0]


def test_another_strategys_position_is_left_alone():
    s = create("mean_reversion")
    s.on_start(FakeCtx(_pos(Side.LONG, "ema_cross")))
    assert [x for b in _stretch_down() if (x := s.on_bar(b))] == []


# -- grid -----------------------------------------------------------------------------------
def _closes(closes, start=T0):
    return [bar(start + i * MIN, c, c + 0.01, c - 0.01, c) for i, c in enumerate(closes)]


def test_grid_buys_a_level_crossed_down_and_targets_the_next_level_up():
    s = create("grid", lower=100, upper=101, spacing_pct=0.25)
    sigs = [x for b in _closes([100.6, 100.6, 100.4]) if (x := s.on_bar(b))]
    assert len(sigs) == 1
    sig = sigs[0]
    assert sig.side is Side.LONG and sig.take_profit == pytest.approx(100.75)
    assert sig.reasons[0].startswith("Closed 100.40 down through grid level 100.50")


def test_grid_sells_a_level_crossed_up():
    s = create("grid", lower=100, upper=101, spacing_pct=0.25)
    sigs = [x for b in _closes([100.4, 100.4, 100.6]) if (x := s.on_bar(b))]
    assert [x.side for x in sigs] == [Side.SHORT]
    assert sigs[0].take_profit == pytest.approx(100.25)


def test_grid_switches_off_when_the_range_breaks_and_exits_a_held_position():
    s = create("grid", lower=100, upper=101, spacing_pct=0.25)
    for b in _closes([100.5, 100.5]):
        s.on_bar(b)
    s.on_start(FakeCtx(_pos(Side.LONG, "grid")))
    out = s.on_bar(bar(T0 + 5 * MIN, 99.5, 99.5, 99.4, 99.5))
    assert out.kind is SignalKind.EXIT and "range broken, grid off" in out.reasons[0]


def test_grid_refuses_an_upside_down_range():
    with pytest.raises(StrategyError, match="lower < upper"):
        create("grid", lower=101, upper=100)


# -- book_imbalance -------------------------------------------------------------------------
def _quotes(n, bid_qty, ask_qty, drift, start_ts=0, mid=100.0):
    out = []
    for i in range(n):
        m = mid + drift * i
        out.append(Quote("BTCUSDT", start_ts + i * 100, m - 0.002, bid_qty, m + 0.002, ask_qty))
    return out


def test_bid_heavy_book_above_its_ema_is_a_long_at_the_ask():
    s = create("book_imbalance", warmup=50, ema_span=50)
    sigs = [x for q in _quotes(200, 9.0, 1.0, 0.001) if (x := s.on_quote(q))]
    assert len(sigs) == 1  # then the 30 s cooldown holds
    sig = sigs[0]
    assert sig.side is Side.LONG
    assert sig.entry == pytest.approx(100.0 + 0.001 * 49 + 0.002)
    assert sig.reasons[0].startswith("Book bid-heavy: imbalance +0.80")
    assert (sig.entry - sig.stop_loss) / sig.entry == pytest.approx(0.0015)


def test_ask_heavy_book_in_a_falling_mid_is_a_short():
    s = create("book_imbalance", warmup=50, ema_span=50)
    sigs = [x for q in _quotes(200, 1.0, 9.0, -0.001) if (x := s.on_quote(q))]
    assert [x.side for x in sigs] == [Side.SHORT]


def test_imbalance_against_the_ema_trend_is_ignored():
    s = create("book_imbalance", warmup=50, ema_span=50)
    assert [x for q in _quotes(200, 9.0, 1.0, -0.001) if (x := s.on_quote(q))] == []


def test_depth_leaning_the_other_way_vetoes_with_a_note():
    s = create("book_imbalance", warmup=50, ema_span=50)
    s.on_depth(Depth("BTCUSDT", 0, [(99.99, 1.0)], [(100.01, 50.0)], is_snapshot=True))
    assert [x for q in _quotes(200, 9.0, 1.0, 0.0005) if (x := s.on_quote(q))] == []
    assert "depth within 5 bps leans" in s.drain_notes()[-1][2]
