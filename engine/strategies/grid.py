"""grid — a bounded grid inside a range: buy a level crossed down, sell one crossed up.

Levels are ``spacing_pct`` apart inside a range that is either fixed (``lower``/``upper``)
or taken from the last ``lookback`` bars' high/low (re-anchored whenever the grid is flat
and the range is stale). A close down through a level → long with its take-profit one
level up; a close up through a level → short, target one level down; the stop is one
spacing away (kept inside the desk's stop band). A close outside the range by more than
one spacing switches the grid off (the range has broken), with an EXIT if we hold a
position, until a new range forms.

Risk caveats (read these): a grid is short volatility. It earns small, frequent wins
while price oscillates and gives them back — and more — when the range breaks; the stop
band limits each loss but not the run of losses in a trend. Spacing must clear the round
trip of fees (2 × taker ≈ 0.08 % on Binance USDT-M at the base tier) or every win is a
loss. The desk is one-way (net) mode, so this grid holds one position at a time, not a
ladder of orders: it is a grid *signal*, deliberately simpler than an exchange grid bot.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tapedesk.engine.events import Bar, Side, Signal, SignalKind
from tapedesk.engine.indicators import RollingMax, RollingMin
from tapedesk.engine.reasons import Reasons
from tapedesk.engine.rolling_range import RollingRange
from tapedesk.engine.strategies.notes import SkipNotes
from tapedesk.engine.strategies.wording import pct, price
from tapedesk.engine.strategy import Strategy, StrategyError, register

_LONG, _SHORT = Side.LONG, Side.SHORT  # read through the enum: ~130 ns each (3.11)
_SAVED = ("active", "base", "hi", "levels", "lo", "prev_close", "range", "since")


class _State:
    """One symbol's grid. A checkpoint saves the ``_SAVED`` slots (the layout of every
    checkpoint so far); the others are worked out from them, per grid, when it is set:
    ``step``, the ``top``/``bottom`` past which the range is broken, and the level index
    of the last close looked at (``i_close`` of the float ``i_of``), which the next bar
    would otherwise work out again as its previous close's."""

    __slots__ = (*_SAVED, "bottom", "i_close", "i_of", "step", "top")

    def __init__(self, lookback: int) -> None:
        self.range = RollingRange(lookback)
        self.active = False
        self.levels = 0
        self.base = 0.0
        self.lo = 0.0
        self.hi = 0.0
        self.prev_close = 0.0
        self.since = 0
        self.i_of: float | None = None

    def set_grid(self, lo: float, step: float, levels: int) -> None:
        self.active = True
        self.base = self.lo = lo
        self.levels = levels
        self.hi = lo + levels * step
        self.since = 0
        self.derive(step)

    def derive(self, step: float) -> None:
        """What every bar reads, worked out once per grid: ``base * spacing`` and the break
        levels (the same arithmetic the bar did before, so the same floats)."""
        self.step = step
        self.top = self.hi + step
        self.bottom = self.lo - step
        self.i_of = None  # an index of the last grid's

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        return None, {name: getattr(self, name) for name in _SAVED}

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        """A checkpoint's state; one saved before RollingRange held a RollingMax/Min pair.
        ``step`` and the rest are left unset: the next bar works them out (``derive``)."""
        slots = dict(state[1])
        if "rmax" in slots:
            slots["range"] = _range_from_pair(slots.pop("rmax"), slots.pop("rmin"))
        for name, value in slots.items():
            setattr(self, name, value)
        self.i_of = None


def _range_from_pair(rmax: RollingMax, rmin: RollingMin) -> RollingRange:
    """The same window as a RollingMax/RollingMin pair's (an older checkpoint's state).

    Their deques hold every value that can still be an extreme; the others, outdone by a
    later bar inside the window, are written as -inf/+inf placeholders that never win (as
    are the last block's bars already out of the window)."""
    p = rmax.period
    out = RollingRange(p)
    out._i = i = rmax._i
    if i < 0:
        return out
    start = i - i % p  # the current block's first bar
    highs, lows = dict(rmax._dq), dict(rmin._dq)
    out._highs = [highs.get(j, float("-inf")) for j in range(start, i + 1)]
    out._lows = [lows.get(j, float("inf")) for j in range(start, i + 1)]
    out._hi = max(out._highs)
    out._lo = min(out._lows)
    if start > 0:
        prev = range(start - p, start)
        his = [highs.get(j, float("-inf")) for j in prev]
        los = [lows.get(j, float("inf")) for j in prev]
        out._prev = (his, los, max(his), min(los))
    return out


def _entry_reasons(close: float, verb: str, level: float, lo: float, hi: float, levels: int,
                   tp: float, stop: float, stop_text: str) -> list[str]:
    """An entry's reasons, worded only when read (engine/reasons.py)."""
    return [
        f"Closed {price(close)} {verb} through grid level {price(level)} "
        f"(grid {price(lo)}–{price(hi)}, {levels} levels)",
        f"target next level {price(tp)}",
        f"stop {price(stop)} {stop_text}",
    ]


@register("grid")
class Grid(SkipNotes, Strategy):
    """Bounded grid signals within a fixed or rolling range (see the module caveats)."""

    PARAMS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "lower": (float, 0.0, "fixed range bottom (0 = use the rolling range)"),
        "upper": (float, 0.0, "fixed range top (0 = use the rolling range)"),
        "lookback": (int, 240, "bars of high/low that define the rolling range"),
        "spacing_pct": (float, 0.25, "distance between grid levels, % of price"),
        "max_levels": (int, 20, "refuse ranges needing more levels than this"),
        "min_levels": (int, 3, "a range narrower than this many levels is no grid"),
        "stop_min_pct": (float, 0.15, "stop distance floor, %"),
        "stop_max_pct": (float, 0.35, "stop distance cap, %"),
    }

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: Any) -> None:
        super().__init__(symbols, **params)
        p = self.params
        if p["spacing_pct"] <= 0:
            raise StrategyError(f"{self.name}: spacing_pct must be > 0")
        if (p["lower"] or p["upper"]) and not 0 < p["lower"] < p["upper"]:
            raise StrategyError(f"{self.name}: need 0 < lower < upper (or both 0 for rolling)")
        if p["lookback"] < 2:
            raise StrategyError(f"{self.name}: lookback must be >= 2")
        self._spacing = p["spacing_pct"] / 100.0
        stop = min(max(self._spacing, p["stop_min_pct"] / 100.0), p["stop_max_pct"] / 100.0)
        self._stop = stop
        self._states: dict[str, _State] = {}
        # Read on every bar: kept as attributes, not looked up in ``params`` each time.
        self._lower = p["lower"]
        self._upper = p["upper"]
        self._lookback = p["lookback"]
        self._stop_text = f"({pct(stop)})"
        self._init_notes()

    def _anchor(self, st: _State, bar: Bar, lo: float, hi: float) -> None:
        step = lo * self._spacing
        levels = int((hi - lo) / step)
        p = self.params
        if levels < p["min_levels"] or levels > p["max_levels"]:
            st.active = False
            return
        st.set_grid(lo, step, levels)
        self._note(
            bar.ts,
            bar.symbol,
            f"Grid set: {levels} levels {price(st.lo)}–{price(st.hi)}, {pct(self._spacing)} apart",
        )

    def on_bar(self, bar: Bar) -> Signal | None:
        sym = bar.symbol
        st = self._states.get(sym)
        if st is None:
            if self.symbols is not None and sym not in self.symbols:
                return None
            st = self._states[sym] = _State(self._lookback)
        st.range.update(bar.high, bar.low)
        close = bar.close
        prev = st.prev_close
        st.prev_close = close
        st.since += 1
        ctx = self.ctx
        pos = ctx.position(sym) if ctx is not None else None
        if pos is not None and pos.strategy and pos.strategy != self.name:
            return None
        if not st.active:
            if pos is None:
                if self._upper:
                    self._anchor(st, bar, self._lower, self._upper)
                else:
                    hi = st.range.high()
                    lo = st.range.low()
                    if hi is not None and lo is not None:
                        self._anchor(st, bar, lo, hi)
            return None
        try:
            step = st.step
        except AttributeError:  # a state just restored from a checkpoint (__setstate__)
            step = st.base * self._spacing
            st.derive(step)
        if close > st.top or close < st.bottom:
            st.active = False
            where = "above" if close > st.hi else "below"
            text = (
                f"Closed {price(close)} {where} the grid {price(st.lo)}–{price(st.hi)}: "
                "range broken, grid off"
            )
            if pos is not None:
                return Signal(
                    strategy=self.name,
                    symbol=sym,
                    side=pos.side,
                    ts=bar.ts,
                    entry=close,
                    kind=SignalKind.EXIT,
                    reasons=[text],
                )
            self._note(bar.ts, sym, text)
            return None
        if pos is not None or prev == 0.0:
            return None
        if not self._upper and st.since > self._lookback:
            st.active = False  # stale rolling range: re-anchor on the next bar
            return None
        # level index just below each close; a change means a level was crossed
        base = st.base
        i_prev = st.i_close if st.i_of is prev else int((prev - base) // step)
        i_now = st.i_close = int((close - base) // step)
        st.i_of = close  # the next bar's previous close, its index known
        levels = st.levels
        if i_now == i_prev or not (0 <= i_now <= levels) or not (0 <= i_prev <= levels):
            return None
        if i_now < i_prev:
            side = _LONG
            level = base + (i_now + 1) * step
            tp = level + step
            verb = "down"
            stop = close * (1.0 - self._stop)
            if tp - close <= 0:
                return None
        else:
            side = _SHORT
            level = base + i_now * step
            tp = level - step
            verb = "up"
            stop = close * (1.0 + self._stop)
            if close - tp <= 0:
                return None
        # positional: one of these for every few bars of a backtest
        return Signal(self.name, sym, side, bar.ts, close, stop, tp, 0.4,
                      Reasons(_entry_reasons, close, verb, level, st.lo, st.hi, levels, tp, stop,
                              self._stop_text))
