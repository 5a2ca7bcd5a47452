"""mean_reversion — fade a stretch outside the Bollinger band when RSI agrees.

Long when a bar closes below the lower band with RSI under ``rsi_low`` (short: above the
upper band, RSI over ``rsi_high``); target the middle band. The volatility filter stands
aside when ATR is tiny (fees eat the whole move back to the mean) or unusually large
(a stretch in a violent tape is a trend starting, not noise to fade). The stop is
``stop_atr`` × ATR from entry, widened to the band floor if tighter, and the trade is
skipped (with a note) if it would need more than the cap. With a position open (the engine
tells us through ``ctx``) a bar beyond the middle band or ``max_hold_bars`` bars emits EXIT.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tapedesk.engine.events import Bar, Side, Signal, SignalKind
from tapedesk.engine.indicators import ATR, EMA, RSI, Bollinger
from tapedesk.engine.strategies.notes import SkipNotes
from tapedesk.engine.strategies.wording import pct, price
from tapedesk.engine.strategy import Strategy, StrategyError, register


class _State:
    __slots__ = ("atr", "atr_avg", "bb", "cooldown", "held", "rsi")

    def __init__(self, p: dict[str, Any]) -> None:
        self.bb = Bollinger(p["bb_period"], p["bb_k"])
        self.rsi = RSI(p["rsi_period"])
        self.atr = ATR(p["atr_period"])
        self.atr_avg = EMA(p["atr_period"] * 20)
        self.cooldown = 0
        self.held = 0


@register("mean_reversion")
class MeanReversion(SkipNotes, Strategy):
    """Bollinger/RSI fade with a volatility filter; target the mean."""

    PARAMS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "bb_period": (int, 20, "Bollinger window (bars)"),
        "bb_k": (float, 2.0, "band width in standard deviations"),
        "rsi_period": (int, 14, "Wilder RSI period"),
        "rsi_low": (float, 25.0, "RSI at/below which a close under the lower band is a long"),
        "rsi_high": (float, 75.0, "RSI at/above which a close over the upper band is a short"),
        "atr_period": (int, 14, "ATR period for stop and volatility filter"),
        "min_atr_pct": (float, 0.03, "stand aside when ATR is under this % of price"),
        "max_vol_ratio": (float, 2.0, "stand aside when ATR is this many times its average"),
        "stop_atr": (float, 1.5, "stop distance in ATRs"),
        "stop_min_pct": (float, 0.15, "stop distance floor, % of entry"),
        "stop_max_pct": (float, 0.35, "stop distance cap, % (wider → no trade)"),
        "max_hold_bars": (int, 60, "exit after this many bars in a position"),
        "cooldown_bars": (int, 5, "bars to wait after a signal"),
    }

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: Any) -> None:
        super().__init__(symbols, **params)
        p = self.params
        if p["bb_period"] < 2 or p["rsi_period"] < 1 or p["atr_period"] < 1:
            raise StrategyError(f"{self.name}: periods must be positive (bb_period >= 2)")
        if not 0 < p["stop_min_pct"] <= p["stop_max_pct"]:
            raise StrategyError(f"{self.name}: need 0 < stop_min_pct <= stop_max_pct")
        self._states: dict[str, _State] = {}
        self._rsi_low = p["rsi_low"]  # read on every bar: attributes, not params lookups
        self._rsi_high = p["rsi_high"]
        self._init_notes()

    def on_bar(self, bar: Bar) -> Signal | None:
        sym = bar.symbol
        st = self._states.get(sym)
        if st is None:
            if self.symbols is not None and sym not in self.symbols:
                return None
            st = self._states[sym] = _State(self.params)
        close = bar.close
        bb = st.bb
        mid = bb.update(close)
        rsi = st.rsi.update(close)
        atr = st.atr.update(bar.high, bar.low, close)
        if atr is None:
            if st.cooldown:
                st.cooldown -= 1
            return None
        avg = st.atr_avg.update(atr)
        if st.cooldown:
            st.cooldown -= 1
        if mid is None or rsi is None:
            return None
        ctx = self.ctx
        pos = ctx.position(sym) if ctx is not None else None
        if pos is not None:
            if pos.strategy and pos.strategy != self.name:
                return None  # another strategy's position: not ours to manage
            return self._manage(st, bar, pos.side, mid)
        st.held = 0
        lower = bb.lower
        upper = bb.upper
        assert lower is not None and upper is not None
        if close < lower and rsi <= self._rsi_low:
            side = Side.LONG
            stretch = f"Closed {price(close)} below the lower band {price(lower)}, RSI {rsi:.0f}"
        elif close > upper and rsi >= self._rsi_high:
            side = Side.SHORT
            stretch = f"Closed {price(close)} above the upper band {price(upper)}, RSI {rsi:.0f}"
        else:
            return None
        if st.cooldown:
            return None
        p = self.params
        atr_frac = atr / close
        if atr_frac * 100.0 < p["min_atr_pct"]:
            self._note(bar.ts, bar.symbol, f"{stretch}; ATR {pct(atr_frac)} too quiet to pay fees")
            return None
        ratio = atr / avg if avg > 0 else 1.0
        if ratio > p["max_vol_ratio"]:
            self._note(
                bar.ts, bar.symbol, f"{stretch}; ATR {ratio:.1f}× its average: not fading that"
            )
            return None
        dist = p["stop_atr"] * atr / close
        band_min = p["stop_min_pct"] / 100.0
        band_max = p["stop_max_pct"] / 100.0
        if dist > band_max:
            self._note(
                bar.ts,
                bar.symbol,
                f"{stretch}; {p['stop_atr']:g}×ATR stop is {pct(dist)}, over the "
                f"{pct(band_max)} cap: no trade",
            )
            return None
        stop_text = f"stop {p['stop_atr']:g}×ATR"
        if dist < band_min:
            dist = band_min
            stop_text = f"stop widened to the {pct(band_min)} floor"
        s = side.sign
        stop = close * (1.0 - s * dist)
        if s * (mid - close) <= 0:
            return None
        st.cooldown = p["cooldown_bars"]
        r = abs(mid - close) / (close * dist)
        return Signal(
            strategy=self.name,
            symbol=bar.symbol,
            side=side,
            ts=bar.ts,
            entry=close,
            stop_loss=stop,
            take_profit=mid,
            confidence=min(0.9, 0.4 + 0.1 * r),
            reasons=[
                stretch,
                f"volatility normal (ATR {pct(atr_frac)}, {ratio:.1f}× average)",
                f"{stop_text} at {price(stop)} ({pct(dist)})",
                f"target middle band {price(mid)} ({r:.1f}R)",
            ],
        )

    def _manage(self, st: _State, bar: Bar, side: Side, mid: float) -> Signal | None:
        st.held += 1
        close = bar.close
        why = ""
        if side.sign * (close - mid) >= 0:
            why = f"Closed {price(close)} back through the middle band {price(mid)}: mean reached"
        elif st.held >= self.params["max_hold_bars"]:
            why = f"Held {st.held} bars without reverting: time stop"
        if not why:
            return None
        st.held = 0
        return Signal(
            strategy=self.name,
            symbol=bar.symbol,
            side=side,
            ts=bar.ts,
            entry=close,
            kind=SignalKind.EXIT,
            reasons=[why],
        )
