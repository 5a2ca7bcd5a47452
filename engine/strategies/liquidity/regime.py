"""Market state: is the tape trending or ranging, and is volatility sane?

Trend vs range is Kaufman's efficiency ratio over ``lookback`` closes: net move divided by
the path travelled. A market that goes somewhere in a straight line scores near 1 (trend);
one that chops back and forth scores near 0 (range). Direction is the sign of the net move.
Volatility is ATR as a fraction of price against its own slow average, so "high" means
unusually violent *for this market*, not an absolute number.
"""

from __future__ import annotations

from typing import Any

RANGE = "range"
TREND_UP = "trend up"
TREND_DOWN = "trend down"
WARMING = "warming up"


class Regime:
    """Incremental regime classifier; ``update(high, low, close)`` → state string.

    ``update`` is ``feed`` then ``classify``. ``feed`` (every bar) keeps the running sums
    on plain floats and ring buffers, the same arithmetic as :class:`engine.indicators.ATR`
    and an EMA of ATR %; ``classify`` turns them into ``state``, ``er`` and ``vol_ratio``,
    so a caller that needs the state on few bars (liquidity_sweep: those that touch a pool)
    feeds every bar and classifies only those. The numbers are the same either way.
    """

    __slots__ = (
        "_abs_sum",
        "_alpha",
        "_atr_keep",
        "_atr_n",
        "_atr_p",
        "_atr_pf",
        "_atr_sum",
        "_closes",
        "_frac",
        "_i",
        "_moves",
        "_net",
        "_prev",
        "_slot",
        "_vol_avg",
        "_warming",
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
        self._slot = -1  # the ring buffers' slot of the last close
        self._warming = True  # until both the window and the ATR are full (see _warm_up)
        self._abs_sum = 0.0
        self._prev = 0.0
        self._net = 0.0  # last close minus the close ``lookback`` bars before it
        self._atr_p = atr_period
        # Wilder's smoothing with float p and p - 1: the same bits as with the ints
        self._atr_keep = float(atr_period - 1)
        self._atr_pf = float(atr_period)
        self._atr_n = 0
        self._atr_sum = 0.0
        self._alpha = 2.0 / (lookback * 4 + 1.0)
        self._vol_avg = -1.0
        self._frac: float | None = None  # ATR / close of the last bar that had both
        self.atr: float | None = None
        self.er = 0.0
        self.vol_ratio = 1.0
        self.state = WARMING

    def update(self, high: float, low: float, close: float) -> str:
        self.feed(high, low, close)
        return self.classify()

    def feed(self, high: float, low: float, close: float) -> None:
        """One closed bar. Every bar after the warm-up takes this path: no counters."""
        if self._warming:
            self._warm_up(high, low, close)
            return
        slot = self._slot + 1
        if slot == self.lookback:
            slot = 0
        self._slot = slot
        pc = self._prev
        self._prev = close
        move = close - pc if close >= pc else pc - close
        moves = self._moves
        self._abs_sum += move - moves[slot]
        moves[slot] = move
        closes = self._closes
        self._net = close - closes[slot]  # closes[slot]: the close ``lookback`` bars ago
        closes[slot] = close
        tr = high - low  # Wilder's true range and ATR
        if high - pc > tr:
            tr = high - pc
        if pc - low > tr:
            tr = pc - low
        self.atr = atr = (self.atr * self._atr_keep + tr) / self._atr_pf  # type: ignore[operator]
        if close > 0.0:
            self._frac = frac = atr / close
            avg = self._vol_avg
            self._vol_avg = frac if avg < 0.0 else avg + self._alpha * (frac - avg)

    def _warm_up(self, high: float, low: float, close: float) -> None:
        """``feed`` while the window or the ATR is still filling (counted in bars)."""
        i = self._i = self._i + 1
        lookback = self.lookback
        slot = self._slot = i % lookback
        closes = self._closes
        moves = self._moves
        if i == 0:
            closes[0] = close
            self._prev = close
            return
        pc = self._prev
        self._prev = close
        move = close - pc if close >= pc else pc - close
        self._abs_sum += move - moves[slot]
        moves[slot] = move
        oldest = closes[slot]
        closes[slot] = close
        tr = high - low
        if high - pc > tr:
            tr = high - pc
        if pc - low > tr:
            tr = pc - low
        p = self._atr_p
        n = self._atr_n = self._atr_n + 1
        if n > p:
            self.atr = atr = (self.atr * self._atr_keep + tr) / self._atr_pf  # type: ignore[operator]
        elif n == p:
            self.atr = atr = (self._atr_sum + tr) / p
        else:
            self._atr_sum += tr
            return
        if close > 0.0:
            self._frac = frac = atr / close
            avg = self._vol_avg
            self._vol_avg = frac if avg < 0.0 else avg + self._alpha * (frac - avg)
        if i >= lookback:  # both full: from the next bar on, ``feed`` runs alone
            self._net = close - oldest
            self._warming = False

    def classify(self) -> str:
        """The state after the last bar fed; sets ``state``, ``er`` and ``vol_ratio``."""
        frac = self._frac
        if frac is not None:
            avg = self._vol_avg
            self.vol_ratio = frac / avg if avg > 0.0 else 1.0
        if self._warming:
            return WARMING
        net = self._net
        path = self._abs_sum
        self.er = er = (net if net >= 0.0 else -net) / path if path > 0.0 else 0.0
        if er >= self.trend_er:
            self.state = state = TREND_UP if net > 0.0 else TREND_DOWN
        else:
            self.state = state = RANGE
        return state

    def describe(self) -> str:
        return describe(self.state, self.er, self.vol_ratio)

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        """A checkpoint's state; one saved before ``feed`` / ``classify`` lacks their fields
        (the next bar fed sets ``_net`` before anything reads it)."""
        slots = dict(state[1])
        if "_warming" not in slots:
            i, lookback, p, atr = slots["_i"], slots["lookback"], slots["_atr_p"], slots["atr"]
            prev = slots["_prev"]
            slots.update(
                _slot=i % lookback if i >= 0 else -1,
                _warming=not (i >= lookback and slots["_atr_n"] >= p),
                _atr_keep=float(p - 1),
                _atr_pf=float(p),
                _net=0.0,
                # what the old code divided by its average at the last bar (None: keep
                # the saved vol_ratio until a bar has an ATR and a positive close)
                _frac=atr / prev if atr is not None and prev > 0.0 else None,
            )
        for name, value in slots.items():
            setattr(self, name, value)


def describe(state: str, er: float, vol_ratio: float) -> str:
    """A regime in words, from its numbers (a signal words it later: engine/reasons.py)."""
    vol = ""
    if vol_ratio >= 1.8:
        vol = ", high volatility"
    elif vol_ratio <= 0.5:
        vol = ", quiet"
    return f"{state} regime (efficiency {er:.2f}{vol})"
