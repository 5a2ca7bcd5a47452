"""EMA crossover momentum: the reference strategy.

Long when the fast EMA crosses above the slow one, short when it crosses below; an open
position is exited on the opposite cross. Both EMAs are seeded with the first close
(``ema_0 = close_0``, then ``ema += alpha * (close - ema)`` with ``alpha = 2 / (n + 1)``),
and no signal is given before ``slow`` bars have been seen, so early crosses of two
barely-warmed averages are not traded. Stop at ``stop_pct`` from entry, target at
``reward_risk`` times the stop distance.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tapedesk.engine.events import Bar, Side, Signal, SignalKind
from tapedesk.engine.explanations import price
from tapedesk.engine.strategy import Strategy, register


@register("ema_cross")
class EmaCross(Strategy):
    PARAMS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "fast": (int, 12, "fast EMA period (bars)"),
        "slow": (int, 26, "slow EMA period (bars)"),
        "stop_pct": (float, 0.25, "stop distance from entry, percent"),
        "reward_risk": (float, 2.0, "target distance as a multiple of the stop distance"),
    }

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: object) -> None:
        super().__init__(symbols, **params)
        if not 0 < self.params["fast"] < self.params["slow"]:
            from tapedesk.engine.strategy import StrategyError

            raise StrategyError(
                f"ema_cross: fast ({self.params['fast']}) must be below slow "
                f"({self.params['slow']}) and positive"
            )
        self._alpha_fast = 2.0 / (self.params["fast"] + 1.0)
        self._alpha_slow = 2.0 / (self.params["slow"] + 1.0)
        self._warmup = self.params["slow"]
        self._state: dict[str, _EmaPair] = {}

    def on_bar(self, bar: Bar) -> Signal | None:
        # The two EMAs are updated inline (same formula as engine.indicators.EMA): this runs
        # on every bar of every backtest, and two method calls per bar cost ~15 % of it.
        st = self._state.get(bar.symbol)
        close = bar.close
        if st is None:
            st = self._state[bar.symbol] = _EmaPair(close)
        else:
            st.fast += self._alpha_fast * (close - st.fast)
            st.slow += self._alpha_slow * (close - st.slow)
        diff = st.fast - st.slow
        prev_diff = st.diff
        st.diff = diff
        st.seen += 1
        if st.seen <= self._warmup or (diff > 0) == (prev_diff > 0) or diff == 0:
            return None
        return self._signal(bar, st, diff)

    def _signal(self, bar: Bar, st: _EmaPair, diff: float) -> Signal | None:
        close = bar.close
        side = Side.LONG if diff > 0 else Side.SHORT
        why = (
            f"EMA{self.params['fast']} {price(st.fast)} crossed "
            f"{'above' if diff > 0 else 'below'} EMA{self.params['slow']} {price(st.slow)}"
        )
        pos = self.ctx.position(bar.symbol) if self.ctx else None
        if pos is not None:
            if pos.side is not side:
                return Signal(
                    self.name, bar.symbol, pos.side, bar.ts, close, reasons=[why],
                    kind=SignalKind.EXIT,
                )
            return None
        dist = close * self.params["stop_pct"] / 100.0
        sign = side.sign
        return Signal(
            self.name, bar.symbol, side, bar.ts, close,
            stop_loss=close - sign * dist,
            take_profit=close + sign * dist * self.params["reward_risk"],
            confidence=0.5, reasons=[why],
        )


class _EmaPair:
    """Both EMAs of one symbol, seeded with its first close."""

    __slots__ = ("diff", "fast", "seen", "slow")

    def __init__(self, first_close: float) -> None:
        self.fast = self.slow = first_close
        self.diff = 0.0
        self.seen = 1
