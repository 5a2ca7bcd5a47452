"""The liquidity map: the price levels where stop orders sit and a sweep can take them.

Pools come from the bars already closed, never from later ones:
- prior-day high/low (UTC day), published when the day rolls over;
- Asia / London / New York session highs and lows (UTC hours), published when the session ends;
- swing highs/lows, published once the ``right`` bars after them have closed;
- equal highs/lows: two swing points within ``eq_tolerance`` of each other, the classic
  double top/bottom retail stops hide behind.

Invariant that keeps the per-bar check to one compare: every live high pool is above every
high printed since it was published (a bar that trades through a pool consumes it), so
``nearest_high`` is the only level a new bar can touch first.
"""

from __future__ import annotations

from typing import Any

from tapedesk.engine.indicators import Swings

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

# (name, start hour UTC, end hour UTC). Overlaps are intended: London opens before Asia's
# range is "done" for many desks; here a session's pools publish at its end hour.
SESSIONS: tuple[tuple[str, int, int], ...] = (
    ("Asia", 0, 8),
    ("London", 7, 16),
    ("New York", 13, 22),
)


class Pool:
    """One level: ``side`` is 'high' (buy stops above) or 'low' (sell stops below)."""

    __slots__ = ("label", "price", "side", "ts")

    def __init__(self, label: str, side: str, price: float, ts: int) -> None:
        self.label = label
        self.side = side
        self.price = price
        self.ts = ts

    def __repr__(self) -> str:
        return f"Pool({self.label} {self.side} {self.price})"


class _Session:
    __slots__ = ("day", "end_h", "high", "low", "name", "start_h")

    def __init__(self, name: str, start_h: int, end_h: int) -> None:
        self.name = name
        self.start_h = start_h
        self.end_h = end_h
        self.high = float("-inf")
        self.low = float("inf")
        self.day = -1


class LiquidityMap:
    """Keeps live high/low pools; ``update(bar)`` publishes new ones as bars close.

    ``highs`` / ``lows`` hold at most ``max_pools`` each (the oldest are forgotten).
    Consuming (sweep or break) is the caller's job via :meth:`take_highs` / :meth:`take_lows`.
    """

    __slots__ = (
        "_day",
        "_day_high",
        "_day_low",
        "_hour",
        "_hour_end",
        "_hour_high",
        "_hour_low",
        "_hour_start",
        "_sessions",
        "_swings",
        "eq_tolerance",
        "highs",
        "lows",
        "max_pools",
        "nearest_high",
        "nearest_low",
        "use_swings",
    )

    def __init__(
        self,
        swing_left: int = 5,
        swing_right: int = 5,
        eq_tolerance: float = 0.0005,
        max_pools: int = 12,
        use_swings: bool = True,
        sessions: tuple[tuple[str, int, int], ...] = SESSIONS,
    ) -> None:
        self._swings = Swings(swing_left, swing_right)
        self.eq_tolerance = eq_tolerance
        self.max_pools = max_pools
        self.use_swings = use_swings
        self._sessions = [_Session(n, s, e) for n, s, e in sessions]
        self._day = -1
        self._day_high = float("-inf")
        self._day_low = float("inf")
        self._hour = -1
        # [start, end) ms of ``_hour``: the per-bar "same hour?" is two compares, no division
        self._hour_start = -HOUR_MS
        self._hour_end = 0
        self._hour_high = float("-inf")
        self._hour_low = float("inf")
        self.highs: list[Pool] = []
        self.lows: list[Pool] = []
        self.nearest_high = float("inf")
        self.nearest_low = float("-inf")

    # -- publishing -------------------------------------------------------------------
    def add(self, pool: Pool, last_high: float, last_low: float) -> None:
        """Publish a pool if price has not already traded through it since it formed."""
        if pool.side == "high":
            if pool.price < last_high:
                return
            pools = self.highs
            pools.append(pool)
            if len(pools) > self.max_pools:
                pools.pop(0)
                self.nearest_high = min(p.price for p in pools)
            elif pool.price < self.nearest_high:  # the others' minimum is kept
                self.nearest_high = pool.price
        else:
            if pool.price > last_low:
                return
            pools = self.lows
            pools.append(pool)
            if len(pools) > self.max_pools:
                pools.pop(0)
                self.nearest_low = max(p.price for p in pools)
            elif pool.price > self.nearest_low:
                self.nearest_low = pool.price

    def update(self, open_ts: int, high: float, low: float, ts: int) -> None:
        """Feed one closed bar (its open time, high, low, close time).

        Per bar this is four compares and the swing detector; day and session ranges are
        folded in once an hour, when the first bar of the next hour arrives.
        """
        if open_ts >= self._hour_end or open_ts < self._hour_start:  # another hour
            self._roll_hour(open_ts // HOUR_MS, high, low, ts)
        if high > self._hour_high:
            self._hour_high = high
        if low < self._hour_low:
            self._hour_low = low
        if self.use_swings and (found := self._swings.step(high, low)):  # a swing confirmed
            if found & 1:
                self._publish_swing("high", self._swings.swing_high[1], ts, high, low)  # type: ignore[index]
            if found & 2:
                self._publish_swing("low", self._swings.swing_low[1], ts, high, low)  # type: ignore[index]

    def _roll_hour(self, hour: int, high: float, low: float, ts: int) -> None:
        """The previous hour closed: fold it into its day and sessions; publish what ended."""
        prev = self._hour
        self._hour = hour
        self._hour_start = start = hour * HOUR_MS
        self._hour_end = start + HOUR_MS
        hh = self._hour_high
        hl = self._hour_low
        self._hour_high = float("-inf")
        self._hour_low = float("inf")
        if prev < 0:
            return
        prev_day = prev // 24
        if prev_day != self._day:
            self._day = prev_day
            self._day_high = hh
            self._day_low = hl
        else:
            self._day_high = max(self._day_high, hh)
            self._day_low = min(self._day_low, hl)
        prev_h = prev % 24
        for s in self._sessions:
            if s.start_h <= prev_h < s.end_h:
                if s.day != prev_day:
                    s.day = prev_day
                    s.high = hh
                    s.low = hl
                else:
                    s.high = max(s.high, hh)
                    s.low = min(s.low, hl)
        day = hour // 24
        h = hour % 24
        for s in self._sessions:
            # the session is over (this hour is outside it, or it is a new day): publish once
            if s.high > float("-inf") and not (s.day == day and s.start_h <= h < s.end_h):
                self.add(Pool(f"{s.name} high", "high", s.high, ts), high, low)
                self.add(Pool(f"{s.name} low", "low", s.low, ts), high, low)
                s.high = float("-inf")
                s.low = float("inf")
        if day != self._day and self._day_high > float("-inf"):
            self.add(Pool("prior-day high", "high", self._day_high, ts), high, low)
            self.add(Pool("prior-day low", "low", self._day_low, ts), high, low)
            self._day_high = float("-inf")
            self._day_low = float("inf")

    def _publish_swing(self, side: str, price: float, ts: int, high: float, low: float) -> None:
        """A swing near a still-live swing pool turns that pool into 'equal highs/lows'.

        A live high pool is never below a later swing high (the swing bar would have
        consumed it), so the upgraded level is the older, outer one.
        """
        tol = self.eq_tolerance * price
        # none near when even the nearest pool is farther than tol (most swings): no scan
        if side == "high":
            pools = self.highs if self.nearest_high - price <= tol else ()
        else:
            pools = self.lows if price - self.nearest_low <= tol else ()
        below = -tol  # -tol <= d <= tol is abs(d) <= tol, without a call per pool
        for p in pools:
            if below <= p.price - price <= tol and p.label.startswith(("swing", "equal")):
                p.label = f"equal {side}s"
                return
        self.add(Pool(f"swing {side}", side, price, ts), high, low)

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        """A checkpoint's state; one saved before ``_hour_start``/``_hour_end`` gets them."""
        slots = dict(state[1])
        if "_hour_start" not in slots:
            slots["_hour_start"] = start = slots["_hour"] * HOUR_MS
            slots["_hour_end"] = start + HOUR_MS
        for name, value in slots.items():
            setattr(self, name, value)

    # -- consuming --------------------------------------------------------------------
    def take_highs(self, high: float) -> list[Pool]:
        """Remove and return every high pool strictly below ``high`` (it traded through them)."""
        taken = [p for p in self.highs if p.price < high]
        if taken:
            self.highs = [p for p in self.highs if p.price >= high]
            self.nearest_high = min((p.price for p in self.highs), default=float("inf"))
        return taken

    def take_lows(self, low: float) -> list[Pool]:
        taken = [p for p in self.lows if p.price > low]
        if taken:
            self.lows = [p for p in self.lows if p.price <= low]
            self.nearest_low = max((p.price for p in self.lows), default=float("-inf"))
        return taken
