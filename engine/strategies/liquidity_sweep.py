"""liquidity_sweep — the desk's own method: fade the failed breakout after stops are taken.

The market is a liquidity auction. Stops rest beyond obvious levels (yesterday's high,
the Asia range, equal highs); price runs them, and when it cannot hold beyond, the run was
the trap. We enter on the reclaim close, stop inside/just past the sweeping wick (kept in
the desk's 0.15–0.35 % band or no trade), and target the liquidity on the other side.

Parts (engine/strategies/liquidity/): regime.py (trend/range/volatility), pools.py (the
liquidity map), sweep.py (sweep verdict, stop and target). This module only wires them and
writes the notes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tapedesk.engine.events import Bar, Side, Signal
from tapedesk.engine.reasons import Reasons
from tapedesk.engine.strategies.liquidity.pools import LiquidityMap
from tapedesk.engine.strategies.liquidity.regime import (
    RANGE,
    TREND_DOWN,
    TREND_UP,
    WARMING,
    Regime,
    describe,
)
from tapedesk.engine.strategies.liquidity.sweep import Sweep, judge_sweep, stop_for, target_for
from tapedesk.engine.strategies.notes import SkipNotes
from tapedesk.engine.strategies.wording import pct, price
from tapedesk.engine.strategy import Strategy, StrategyError, register
from tapedesk.engine.timeframes import Resampler, timeframe_ms


class _State:
    __slots__ = ("cooldown", "map", "pending", "regime", "resampler")

    def __init__(self, p: dict[str, Any], symbol: str) -> None:
        self.regime = Regime(p["regime_lookback"], p["trend_er"])
        self.map = LiquidityMap(
            swing_left=p["swing_left"],
            swing_right=p["swing_right"],
            eq_tolerance=p["eq_tolerance_pct"] / 100.0,
        )
        tf = p["timeframe"]
        self.resampler = Resampler(tf, symbol) if timeframe_ms(tf) > 60_000 else None
        self.cooldown = 0
        # a higher-timeframe sweep waiting for its 1m confirmation: (signal, level, bars left)
        self.pending: tuple[Signal, float, int] | None = None


@register("liquidity_sweep")
class LiquiditySweep(SkipNotes, Strategy):
    """Sweep of a liquidity pool that closes back inside → entry on the reclaim."""

    PARAMS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "timeframe": (str, "1m", "bars sweeps are judged on: 1m, or 5m/15m/1h built from 1m"),
        "regime_lookback": (int, 60, "bars in the trend/range efficiency window"),
        "trend_er": (float, 0.35, "efficiency ratio at/above which the market is trending"),
        "with_trend_only": (int, 1, "1 = in a trend take only sweeps that rejoin it; 0 = both"),
        "max_vol_ratio": (float, 2.5, "skip when ATR is this many times its own average"),
        "swing_left": (int, 10, "bars left of a swing point"),
        "swing_right": (int, 10, "bars right of a swing point (its confirmation delay)"),
        "eq_tolerance_pct": (float, 0.05, "two swings within this % are equal highs/lows"),
        "max_sweep_pct": (float, 0.5, "a wick deeper than this % beyond the pool is a move"),
        "stop_min_pct": (float, 0.15, "stop distance floor, % of entry"),
        "stop_max_pct": (float, 0.35, "stop distance cap, % of entry (wider → no trade)"),
        "stop_buffer_pct": (float, 0.02, "how far past the wick a structure stop goes, %"),
        "target_r": (float, 2.0, "R multiple target when no opposite pool qualifies"),
        "min_target_r": (float, 1.5, "an opposite pool must be at least this many R away"),
        "cooldown_bars": (int, 15, "bars to wait after a signal on the same symbol"),
        "confirm_bars": (
            int,
            0,
            "with timeframe above 1m: wait up to this many 1m bars for a 1m close in the "
            "trade's direction beyond the swept level, entering there (0 = enter on the "
            "higher-timeframe close)",
        ),
    }

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: Any) -> None:
        super().__init__(symbols, **params)
        p = self.params
        try:
            timeframe_ms(p["timeframe"])
        except ValueError as exc:
            raise StrategyError(f"{self.name}: parameter timeframe: {exc}") from exc
        if not 0 < p["stop_min_pct"] <= p["stop_max_pct"]:
            raise StrategyError(f"{self.name}: need 0 < stop_min_pct <= stop_max_pct")
        self._band_min = p["stop_min_pct"] / 100.0
        self._band_max = p["stop_max_pct"] / 100.0
        self._buffer = p["stop_buffer_pct"] / 100.0
        self._max_depth = p["max_sweep_pct"] / 100.0
        self._states: dict[str, _State] = {}
        self._init_notes()

    def on_bar(self, bar: Bar) -> Signal | None:
        st = self._states.get(bar.symbol)
        if st is None:
            if self.symbols is not None and bar.symbol not in self.symbols:
                return None
            st = self._states[bar.symbol] = _State(self.params, bar.symbol)
        if st.resampler is not None:
            confirmed = self._confirm(st, bar) if st.pending is not None else None
            bar = st.resampler.update(bar)  # type: ignore[assignment]
            if bar is None:
                return confirmed
        high = bar.high
        low = bar.low
        regime = st.regime
        regime.feed(high, low, bar.close)
        lmap = st.map
        signal = None
        if high > lmap.nearest_high or low < lmap.nearest_low:
            taken_h = lmap.take_highs(high) if high > lmap.nearest_high else []
            taken_l = lmap.take_lows(low) if low < lmap.nearest_low else []
            # the regime's state is worked out only on the few bars that touch a pool
            if st.cooldown == 0 and regime.classify() != WARMING:
                signal = self._judge(st, bar, taken_h, taken_l)
        if st.cooldown:
            st.cooldown -= 1
        lmap.update(bar.open_ts, high, low, bar.ts)
        if signal is not None and st.resampler is not None and self.params["confirm_bars"] > 0:
            level = signal.entry  # the reclaim close is the line the 1m bars must hold
            st.pending = (signal, level, self.params["confirm_bars"])
            return None
        return signal

    def _confirm(self, st: _State, bar: Bar) -> Signal | None:
        """A 1m bar after a higher-timeframe sweep: confirm, keep waiting, or give up."""
        assert st.pending is not None
        sig, level, left = st.pending
        s = sig.side.sign
        if s * (bar.low if s > 0 else bar.high) <= s * sig.stop_loss:
            st.pending = None
            self._note_by(bar.ts, bar.symbol, _after_first, sig, "stop traded before confirmation")
            return None
        close = bar.close
        if s * (close - bar.open) > 0 and s * (close - level) > 0:
            st.pending = None
            dist = s * (close - sig.stop_loss) / close
            if not self._band_min <= dist <= self._band_max:
                self._note_by(bar.ts, bar.symbol, _outside_band, sig, close, dist)
                return None
            if s * (sig.take_profit - close) <= 0:
                return None
            reasons = [
                *sig.reasons[:2],
                f"confirmed on 1m: closed {price(close)} beyond the reclaim {price(level)}",
                f"stop {price(sig.stop_loss)} ({pct(dist)})",
                sig.reasons[3],
            ]
            return Signal(
                strategy=sig.strategy,
                symbol=sig.symbol,
                side=sig.side,
                ts=bar.ts,
                entry=close,
                stop_loss=sig.stop_loss,
                take_profit=sig.take_profit,
                confidence=min(0.95, sig.confidence + 0.1),
                reasons=reasons,
            )
        if left <= 1:
            st.pending = None
            self._note_by(bar.ts, bar.symbol, _after_first, sig, "no 1m confirmation in time")
            return None
        st.pending = (sig, level, left - 1)
        return None

    def _judge(self, st: _State, bar: Bar, taken_h: list, taken_l: list) -> Signal | None:
        sweep, why, args = judge_sweep(bar.high, bar.low, bar.close, taken_h, taken_l,
                                       self._max_depth)
        if sweep is None:
            if why is not None:
                self._note_by(bar.ts, bar.symbol, why, *args)
            return None
        side = sweep.side
        regime = st.regime
        if self.params["with_trend_only"] and (
            (regime.state == TREND_UP and side is Side.SHORT)
            or (regime.state == TREND_DOWN and side is Side.LONG)
        ):
            self._note_by(bar.ts, bar.symbol, _against_trend, sweep, regime.state, regime.er,
                          regime.vol_ratio)
            return None
        if regime.vol_ratio > self.params["max_vol_ratio"]:
            self._note_by(bar.ts, bar.symbol, _too_volatile, sweep, regime.vol_ratio)
            return None
        ctx = self.ctx
        if ctx is not None and ctx.position(bar.symbol) is not None:
            self._note_by(bar.ts, bar.symbol, _after_sweep, sweep, "already in a position")
            return None
        entry = bar.close
        body_edge = min(bar.open, entry) if side is Side.LONG else max(bar.open, entry)
        stop, stop_word, stop_args = stop_for(
            side, entry, sweep.extreme, body_edge, self._band_min, self._band_max, self._buffer
        )
        if stop is None:
            self._note_by(bar.ts, bar.symbol, _stop_refused, sweep, stop_word, stop_args)
            return None
        opposite = st.map.highs if side is Side.LONG else st.map.lows
        tp, tp_word, tp_args = target_for(
            side, entry, stop, opposite, self.params["target_r"], self.params["min_target_r"]
        )
        st.cooldown = self.params["cooldown_bars"]
        confidence = 0.5
        if sweep.pool.label.startswith(("prior-day", "Asia", "London", "New York", "equal")):
            confidence += 0.15
        if regime.state == RANGE:
            confidence += 0.1
        return Signal(
            strategy=self.name,
            symbol=bar.symbol,
            side=side,
            ts=bar.ts,
            entry=entry,
            stop_loss=stop,
            take_profit=tp,
            confidence=confidence,
            reasons=Reasons(_reasons, sweep, regime.state, regime.er, regime.vol_ratio,
                            stop_word, stop_args, tp_word, tp_args),
        )


def _reasons(sweep: Sweep, state: str, er: float, vol_ratio: float, stop_word: Any,
             stop_args: tuple, tp_word: Any, tp_args: tuple) -> list[str]:
    """A sweep's reasons, worded when read (engine/reasons.py). ``sweep`` holds the pools
    it took, out of the map for good: nothing changes them after the signal."""
    return [sweep.describe(), describe(state, er, vol_ratio), stop_word(*stop_args),
            tp_word(*tp_args)]


# Skip notes, worded when read (engine/strategies/notes.py). A signal's reasons are worded
# from values taken when it was made (engine/reasons.py), a sweep's pools are out of the map
# for good, and the regime is passed as its numbers: nothing here reads live state.


def _after_first(sig: Signal, tail: str) -> str:
    return f"{sig.reasons[0]}; {tail}"


def _outside_band(sig: Signal, close: float, dist: float) -> str:
    return (f"{sig.reasons[0]}; confirmed at {price(close)} but the stop is then "
            f"{pct(dist)} away, outside the band: no trade")


def _after_sweep(sweep: Sweep, tail: str) -> str:
    return f"{sweep.describe()}; {tail}"


def _too_volatile(sweep: Sweep, vol_ratio: float) -> str:
    return f"{sweep.describe()}; volatility {vol_ratio:.1f}× normal: standing aside"


def _against_trend(sweep: Sweep, state: str, er: float, vol_ratio: float) -> str:
    return f"{sweep.describe()}; {describe(state, er, vol_ratio)}: not fading it"


def _stop_refused(sweep: Sweep, word: Any, args: tuple) -> str:
    return f"{sweep.describe()}; {word(*args)}"
