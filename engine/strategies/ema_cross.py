"""EMA crossover momentum: the reference strategy.

Long when the fast EMA crosses above the slow one, short when it crosses below. Both EMAs
are seeded with the first close (``ema_0 = close_0``, then ``ema += alpha * (close - ema)``
with ``alpha = 2 / (n + 1)``; no SMA seed), and no signal is given before bar index ``slow``
(0-based: a change of sign between bars ``slow - 1`` and ``slow`` is the first cross that can
trade, the peers' rule in docs/performance.md), so early crosses
of two barely-warmed averages are not traded. A cross is a change of sign of
``fast - slow``; ``fast == slow`` is no signal and keeps the previous sign.

- ``reverse=false`` (default): an opposite cross only exits the open position.
- ``reverse=true``: an opposite cross closes the position and enters the other way at the
  same bar (always in the market after the first cross) — the classic EMA cross of
  backtrader's, vectorbt's and backtesting.py's docs. The strategy only says so (a
  ``REVERSE`` signal); the engine vets the exit and the entry and sends both through the
  order owner: where the close fills at once (``--fill-at close``) both fill at the same
  price; where it does not (next-open fills, latency, live) no entry is sent while the
  close works, and the strategy asks for the entry once more on the next bar if it is flat
  by then and no new cross came.
- Stop at ``stop_pct`` from entry, target at ``reward_risk`` times the stop distance;
  ``stop_pct=0`` means no stop and no target (the risk rules refuse such an entry unless
  the run is ``--no-risk``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from tapedesk.engine.events import Bar, Side, Signal, SignalKind
from tapedesk.engine.explanations import price
from tapedesk.engine.reasons import Reasons
from tapedesk.engine.strategy import Strategy, register

# Enum members read through their class cost ~130 ns each (3.11): read once here.
_LONG, _SHORT = Side.LONG, Side.SHORT
_EXIT, _REVERSE = SignalKind.EXIT, SignalKind.REVERSE


@register("ema_cross")
class EmaCross(Strategy):
    PARAMS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "fast": (int, 12, "fast EMA period (bars)"),
        "slow": (int, 26, "slow EMA period (bars)"),
        "stop_pct": (float, 0.25, "stop distance from entry, percent; 0 = no stop, no target"),
        "reward_risk": (float, 2.0, "target distance as a multiple of the stop distance"),
        "reverse": (bool, False, "opposite cross closes and enters the other way (always in)"),
    }

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: object) -> None:
        super().__init__(symbols, **params)
        if not 0 < self.params["fast"] < self.params["slow"]:
            from tapedesk.engine.strategy import StrategyError

            raise StrategyError(
                f"ema_cross: fast ({self.params['fast']}) must be below slow "
                f"({self.params['slow']}) and positive"
            )
        if self.params["stop_pct"] < 0:
            from tapedesk.engine.strategy import StrategyError

            raise StrategyError(f"ema_cross: stop_pct must be >= 0, got {self.params['stop_pct']}")
        self._reverse = bool(self.params["reverse"])
        self._alpha_fast = 2.0 / (self.params["fast"] + 1.0)
        self._alpha_slow = 2.0 / (self.params["slow"] + 1.0)
        self._warmup = self.params["slow"]
        self._fast_name = f"EMA{self.params['fast']}"  # as the reasons write them
        self._slow_name = f"EMA{self.params['slow']}"
        self._state: dict[str, _EmaPair] = {}

    def on_bar(self, bar: Bar) -> Signal | None:
        # The two EMAs are updated inline (same formula as engine.indicators.EMA): this runs
        # on every bar of every backtest, and two method calls per bar cost ~15 % of it.
        # Float constants and comparisons that branch at once: CPython 3.11 specialises only
        # those (float-to-int or unbranched comparisons take the generic path).
        close = bar.close
        try:
            st = self._state[bar.symbol]
        except KeyError:
            st = self._state[bar.symbol] = _EmaPair(close)
            diff = st.fast - st.slow
        else:
            fast = st.fast
            slow = st.slow
            st.fast = fast = fast + self._alpha_fast * (close - fast)
            st.slow = slow = slow + self._alpha_slow * (close - slow)
            diff = fast - slow
        seen = st.seen
        if seen <= self._warmup:  # counted only while warming up (an int made per bar, else)
            st.seen = seen = seen + 1
        if diff == 0.0:
            return None  # equal EMAs: no new sign, the last one stands
        prev_diff = st.diff
        st.diff = diff
        # no cross ((diff > 0) == (prev_diff > 0), as jumps), or too early
        if (prev_diff > 0.0 if diff > 0.0 else not prev_diff > 0.0) or seen <= self._warmup:
            if st.retry is not None:
                return self._retry(bar, st)
            return None
        return self._signal(bar, st, diff)

    def _signal(self, bar: Bar, st: _EmaPair, diff: float) -> Signal | None:
        close = bar.close
        side = _LONG if diff > 0 else _SHORT
        ctx = self.ctx
        pos = ctx.position(bar.symbol) if ctx else None
        st.retry = None
        if pos is not None and pos.side is side:
            return None
        why = Reasons(_cross_words, self._fast_name, st.fast, diff > 0, self._slow_name, st.slow)
        if pos is not None:
            if not self._reverse:
                return Signal(self.name, bar.symbol, pos.side, bar.ts, close, 0.0, 0.0, 0.5,
                              why, _EXIT)
            st.retry = side  # if the close could not fill at once: enter on the next bar
            sig = self._entry(bar, side, why)
            sig.kind = _REVERSE
            return sig
        return self._entry(bar, side, why)

    def _retry(self, bar: Bar, st: _EmaPair) -> Signal | None:
        """The bar after a reversal: enter once if flat (the close had not filled at once)."""
        side, st.retry = st.retry, None
        if side is None or (self.ctx and self.ctx.position(bar.symbol) is not None):
            return None
        return self._entry(bar, side, ["re-entry after the reversing close filled"])

    def _entry(self, bar: Bar, side: Side, why: Sequence[str]) -> Signal:
        # Signals made positionally, in Signal's field order (stop_loss, take_profit,
        # confidence, reasons[, kind]): keywords cost ~2,300 instructions more a signal.
        close = bar.close
        dist = close * self.params["stop_pct"] / 100.0
        if not dist:
            return Signal(self.name, bar.symbol, side, bar.ts, close, 0.0, 0.0, 0.5, why)
        sign = side.sign
        return Signal(self.name, bar.symbol, side, bar.ts, close, close - sign * dist,
                      close + sign * dist * self.params["reward_risk"], 0.5, why)


def _cross_words(fast_name: str, fast: float, above: bool, slow_name: str,
                 slow: float) -> list[str]:
    """The cross in words, written only when somebody reads it (engine/reasons.py)."""
    return [f"{fast_name} {price(fast)} crossed {'above' if above else 'below'} "
            f"{slow_name} {price(slow)}"]


class _EmaPair:
    """Both EMAs of one symbol, seeded with its first close."""

    __slots__ = ("diff", "fast", "retry", "seen", "slow")

    def __init__(self, first_close: float) -> None:
        self.fast = self.slow = first_close
        self.diff = 0.0
        #: Bars seen, this first one included once on_bar counts it; counted up to one past
        #: the warm-up only (all on_bar asks is whether it is past).
        self.seen = 0
        self.retry: Side | None = None
