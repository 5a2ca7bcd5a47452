"""Market state: is the tape trending or ranging, and is volatility sane?

Trend vs range is Kaufman's efficiency ratio over ``lookback`` closes: net move divided by
the path travelled. A market that goes somewhere in a straight line scores near 1 (trend);
one that chops back and forth scores near 0 (range). Direction is the sign of the net move.
Volatility is ATR as a fraction of price against its own slow average, so "high" means
unusually violent *for this market*, not an absolute number.
"""

from __future__ import annotations

RANGE = "range"
TREND_UP = "trend up"
TREND_DOWN = "trend down"
WARMING = "warming up"


class Regime:
    """Incremental regime classifier; ``update(high, low, close)`` → state string.

    Hot path: everything is inlined on plain floats and a ring buffer (one call per bar),
    the same arithmetic as :class:`engine.indicators.ATR` and an EMA of ATR %.
    """

    __slots__ = (
        "_abs_sum",
        "_alpha",
        "_atr_n",
        "_atr_p",
        "_atr_sum",
        "_closes",
        "_i",
        "_moves",
        "_prev",
        "_vol_avg",
        "atr",
        "er",
        "lookback",
        "state",
        "trend_er",
        "vol_ratio",
    )

    def __init__(self, lookback: int = 60, trend_er: float = 0.35, atr_period: int = 14) -> None:
        if lookback < 2 or atr_period < 1:
            raise ValueError("regime lookback must be >= 2 and atr_period >= 1")
        self.lookback = lookback
        self.trend_er = trend_er
        self._closes = [0.0] * lookback
        self._moves = [0.0] * lookback
        self._i = -1
        self._abs_sum = 0.0
        self._prev = 0.0
        self._atr_p = atr_period
        self._atr_n = 0
        self._atr_sum = 0.0
        self._alpha = 2.0 / (lookback * 4 + 1.0)
        self._vol_avg = -1.0
        self.atr: float | None = None
        self.er = 0.0
        self.vol_ratio = 1.0
        self.state = WARMING

    def update(self, high: float, low: float, close: float) -> str:
        i = self._i = self._i + 1
        lookback = self.lookback
        slot = i % lookback
        closes = self._closes
        moves = self._moves
        if i == 0:
            closes[0] = close
            self._prev = close
            return WARMING
        pc = self._prev
        self._prev = close
        move = close - pc if close >= pc else pc - close
        self._abs_sum = path = self._abs_sum + (move - moves[slot])
        moves[slot] = move
        oldest = closes[slot]  # close from `lookback` bars ago (before overwrite)
        closes[slot] = close
        # Wilder ATR
        tr = high - low
        if high - pc > tr:
            tr = high - pc
        if pc - low > tr:
            tr = pc - low
        p = self._atr_p
        n = self._atr_n = self._atr_n + 1
        if n > p:  # every bar after the ATR's warm-up
            self.atr = atr = (self.atr * (p - 1) + tr) / p  # type: ignore[operator]
        elif n == p:
            self.atr = atr = (self._atr_sum + tr) / p
        else:
            self._atr_sum += tr
            return WARMING
        if close > 0.0:
            frac = atr / close
            avg = self._vol_avg
            avg = self._vol_avg = frac if avg < 0.0 else avg + self._alpha * (frac - avg)
            self.vol_ratio = frac / avg if avg > 0.0 else 1.0
        if i < lookback:
            self.state = WARMING
            return WARMING
        net = close - oldest
        self.er = er = (net if net >= 0.0 else -net) / path if path > 0.0 else 0.0
        if er >= self.trend_er:
            self.state = state = TREND_UP if net > 0.0 else TREND_DOWN
        else:
            self.state = state = RANGE
        return state

    def describe(self) -> str:
        return describe(self.state, self.er, self.vol_ratio)


def describe(state: str, er: float, vol_ratio: float) -> str:
    """A regime in words, from its numbers (a signal words it later: engine/reasons.py)."""
    vol = ""
    if vol_ratio >= 1.8:
        vol = ", high volatility"
    elif vol_ratio <= 0.5:
        vol = ", quiet"
    return f"{state} regime (efficiency {er:.2f}{vol})"
