"""Incremental indicators: O(1) per update, no look-ahead, plain floats.

Every indicator here is fed one value (or one bar's numbers) at a time and only ever looks
at values it has already been given, so a strategy built from them cannot peek at the
future. They are small ``__slots__`` classes instead of pandas columns because a backtest
calls them millions of times per run and a live desk calls them on every closed bar.

Warm-up convention: ``value`` is ``None`` until the indicator has seen enough data to be
the number the textbook (and TA-Lib) defines; ``update`` returns the same thing. The one
exception is :class:`EMA`, which is seeded from the first value (as ``pandas.ewm(adjust=False)``)
so it is usable at once; TA-Lib seeds it with an SMA instead and both converge after a few
dozen periods (tests check both).
"""

from __future__ import annotations

from collections import deque
from math import sqrt
from typing import Any

_BEFORE = (-1.5, float("nan"))  # Swings' placeholder for the bars before the first


class EMA:
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the first value."""

    __slots__ = ("alpha", "count", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"EMA period must be >= 1, got {period}")
        self.period = period
        self.alpha = 2.0 / (period + 1.0)
        self.value: float | None = None
        self.count = 0

    def update(self, x: float) -> float:
        v = self.value
        self.value = v = x if v is None else v + self.alpha * (x - v)
        self.count += 1
        return v


class SMA:
    """Simple moving average over the last ``period`` values (a running sum, O(1))."""

    __slots__ = ("_buf", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"SMA period must be >= 1, got {period}")
        self.period = period
        self._buf: deque[float] = deque()
        self._sum = 0.0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        buf = self._buf
        buf.append(x)
        self._sum += x
        if len(buf) > self.period:
            self._sum -= buf.popleft()
        if len(buf) == self.period:
            self.value = self._sum / self.period
        return self.value


class RollingStd:
    """Population standard deviation (ddof=0, as TA-Lib STDDEV and Bollinger bands use).

    Updated with a windowed Welford step rather than sum-of-squares: with BTC near 40,000
    the squares are ~1.6e9 and subtracting them loses the few digits the variance lives in.
    """

    __slots__ = ("_buf", "_m2", "_mean", "mean", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 2:
            raise ValueError(f"rolling std period must be >= 2, got {period}")
        self.period = period
        self._buf: deque[float] = deque()
        self._mean = 0.0
        self._m2 = 0.0
        self.mean: float | None = None
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        buf = self._buf
        p = self.period
        if len(buf) == p:  # a full window (every bar after the warm-up): x replaces the oldest
            old = buf.popleft()
            buf.append(x)
            old_mean = self._mean
            self._mean = mean = old_mean + (x - old) / p
            self._m2 = m2 = self._m2 + (x - old) * (x - mean + old - old_mean)
            self.mean = mean
            self.value = sd = sqrt(m2 / p) if m2 > 0.0 else 0.0
            return sd
        buf.append(x)
        n = len(buf)
        delta = x - self._mean
        self._mean += delta / n
        self._m2 += delta * (x - self._mean)
        if n == p:
            m2 = self._m2
            self.mean = self._mean
            self.value = sqrt(m2 / p) if m2 > 0.0 else 0.0
        return self.value


class Bollinger:
    """Bollinger bands: SMA(period) ± k × population std over the same window."""

    __slots__ = ("_std", "k", "lower", "middle", "period", "upper")

    def __init__(self, period: int = 20, k: float = 2.0) -> None:
        self.period = period
        self.k = k
        self._std = RollingStd(period)
        self.middle: float | None = None
        self.upper: float | None = None
        self.lower: float | None = None

    def update(self, x: float) -> float | None:
        """Feed a close; returns the middle band (None while warming up)."""
        std = self._std
        sd = std.update(x)
        if sd is None:
            return None
        self.middle = mid = std.mean
        k = self.k
        self.upper = mid + k * sd
        self.lower = mid - k * sd
        return mid

    @property
    def std(self) -> float | None:
        return self._std.value


class RSI:
    """Wilder's RSI: first averages are plain means of ``period`` changes, then Wilder smoothing.

    Matches TA-Lib's RSI (first value after ``period + 1`` inputs).
    """

    __slots__ = ("_avg_gain", "_avg_loss", "_n", "_prev", "period", "value")

    def __init__(self, period: int = 14) -> None:
        if period < 1:
            raise ValueError(f"RSI period must be >= 1, got {period}")
        self.period = period
        self._prev: float | None = None
        self._avg_gain = 0.0
        self._avg_loss = 0.0
        self._n = 0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        prev = self._prev
        self._prev = x
        if prev is None:
            return None
        change = x - prev
        gain = change if change > 0.0 else 0.0
        loss = -change if change < 0.0 else 0.0
        p = self.period
        n = self._n = self._n + 1
        if n > p:  # Wilder smoothing: every bar after the warm-up
            self._avg_gain = ag = (self._avg_gain * (p - 1) + gain) / p
            self._avg_loss = al = (self._avg_loss * (p - 1) + loss) / p
        else:
            self._avg_gain = ag = self._avg_gain + gain / p
            self._avg_loss = al = self._avg_loss + loss / p
            if n < p:
                return None
        total = ag + al
        self.value = rsi = 50.0 if total == 0.0 else 100.0 * ag / total
        return rsi


class ATR:
    """Wilder's average true range; matches TA-Lib ATR (first value after ``period + 1`` bars).

    The first bar has no previous close, so (as TA-Lib) it only provides that close; the
    first ATR is the mean of the next ``period`` true ranges, then Wilder smoothing.
    """

    __slots__ = ("_n", "_prev_close", "_sum", "period", "tr", "value")

    def __init__(self, period: int = 14) -> None:
        if period < 1:
            raise ValueError(f"ATR period must be >= 1, got {period}")
        self.period = period
        self._prev_close: float | None = None
        self._sum = 0.0
        self._n = 0
        self.tr: float | None = None
        self.value: float | None = None

    def update(self, high: float, low: float, close: float) -> float | None:
        pc = self._prev_close
        self._prev_close = close
        tr = high - low
        if pc is None:
            self.tr = tr
            return None
        if high - pc > tr:
            tr = high - pc
        if pc - low > tr:
            tr = pc - low
        self.tr = tr
        p = self.period
        n = self._n = self._n + 1
        if n > p:  # Wilder smoothing: every bar after the warm-up
            self.value = atr = (self.value * (p - 1) + tr) / p  # type: ignore[operator]
            return atr
        if n < p:
            self._sum += tr
            return None
        self.value = atr = (self._sum + tr) / p
        return atr


class RollingMax:
    """Maximum of the last ``period`` values with a monotonic deque (amortised O(1))."""

    __slots__ = ("_dq", "_i", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"rolling max period must be >= 1, got {period}")
        self.period = period
        self._dq: deque[tuple[int, float]] = deque()
        self._i = -1
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        i = self._i = self._i + 1
        dq = self._dq
        while dq and dq[-1][1] <= x:
            dq.pop()
        dq.append((i, x))
        front = dq[0]
        p = self.period
        if front[0] <= i - p:  # (i, x) itself is never out: the deque stays non-empty
            dq.popleft()
            front = dq[0]
        if i + 1 >= p:
            self.value = value = front[1]
            return value
        return self.value

    @property
    def argmax_age(self) -> int:
        """How many updates ago the current maximum was seen (0 = this one)."""
        return self._i - self._dq[0][0] if self._dq else 0


class RollingMin:
    """Minimum of the last ``period`` values with a monotonic deque (amortised O(1))."""

    __slots__ = ("_dq", "_i", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"rolling min period must be >= 1, got {period}")
        self.period = period
        self._dq: deque[tuple[int, float]] = deque()
        self._i = -1
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        i = self._i = self._i + 1
        dq = self._dq
        while dq and dq[-1][1] >= x:
            dq.pop()
        dq.append((i, x))
        front = dq[0]
        p = self.period
        if front[0] <= i - p:  # (i, x) itself is never out: the deque stays non-empty
            dq.popleft()
            front = dq[0]
        if i + 1 >= p:
            self.value = value = front[1]
            return value
        return self.value

    @property
    def argmin_age(self) -> int:
        return self._i - self._dq[0][0] if self._dq else 0


class Swings:
    """Swing (fractal) highs and lows, confirmed ``right`` bars later — never earlier.

    A swing high is a bar whose high is at least the previous ``left`` highs and strictly
    above the next ``right`` highs. It can only be known once those ``right`` bars have
    closed, so ``update`` reports it then, with the index and price of the swing bar.
    Implemented with a monotonic deque per side over the ``left + right + 1`` window (the
    same technique as :class:`RollingMax`, inlined because it runs on every bar): the swing
    bar is the window's centre when the deque's front is the centre.
    """

    __slots__ = (
        "_hi",
        "_i",
        "_last_high",
        "_last_low",
        "_lo",
        "_window",
        "left",
        "right",
        "swing_high",
        "swing_low",
    )

    def __init__(self, left: int = 3, right: int = 3) -> None:
        if left < 1 or right < 1:
            raise ValueError(f"swing left/right must be >= 1, got {left}/{right}")
        self.left = left
        self.right = right
        self._window = left + right + 1
        # Each deque starts with a placeholder for the bars before the first: its NaN is
        # never popped (every comparison with it is false) and it holds the front until the
        # first centre with ``left`` bars before it (index -1.5 leaves when index -1 would
        # and is never a centre), so no centre before that is a swing: no check per bar.
        self._hi: deque[tuple[float, float]] = deque([_BEFORE])
        self._lo: deque[tuple[float, float]] = deque([_BEFORE])
        # the deques' last prices (the last bar's): most bars compare with them alone
        self._last_high = self._last_low = _BEFORE[1]
        self._i = -1
        self.swing_high: tuple[int, float] | None = None  # (bar index, price) of the latest
        self.swing_low: tuple[int, float] | None = None

    def update(self, high: float, low: float) -> tuple[float | None, float | None]:
        """Feed a bar; returns (confirmed swing high price or None, swing low price or None)."""
        found = self.step(high, low)
        return (
            self.swing_high[1] if found & 1 else None,  # type: ignore[index]
            self.swing_low[1] if found & 2 else None,  # type: ignore[index]
        )

    def step(self, high: float, low: float) -> int:
        """``update`` for a caller on every bar: 0, or 1 (a swing high confirmed, now in
        ``swing_high``) + 2 (a swing low, in ``swing_low``); no tuple built per bar."""
        i = self._i = self._i + 1
        hi = self._hi
        if high >= self._last_high:  # the deque's last entry is the last bar: it goes
            hi.pop()
            while hi and hi[-1][1] <= high:
                hi.pop()
        hi.append((i, high))
        self._last_high = high
        lo = self._lo
        if low <= self._last_low:
            lo.pop()
            while lo and lo[-1][1] >= low:
                lo.pop()
        lo.append((i, low))
        self._last_low = low
        oldest = i - self._window
        centre = i - self.right
        found = 0
        j = hi[0][0]
        if j <= oldest:  # the bar just added is never out: the deques stay non-empty
            hi.popleft()
            j = hi[0][0]
        if j == centre:
            self.swing_high = hi[0]
            found = 1
        j = lo[0][0]
        if j <= oldest:
            lo.popleft()
            j = lo[0][0]
        if j == centre:
            self.swing_low = lo[0]
            found += 2
        return found

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        """A checkpoint's state; one saved before the placeholders, while the first centre
        with ``left`` bars before it was still to come, gets them back (and the last
        prices, which it did not keep apart)."""
        slots = state[1]
        for name, value in slots.items():
            setattr(self, name, value)
        if self._i - self.right < self.left - 1:
            for dq in (self._hi, self._lo):
                if not dq or dq[0][0] != _BEFORE[0]:
                    dq.appendleft(_BEFORE)
        if "_last_high" not in slots:
            self._last_high = self._hi[-1][1] if self._hi else _BEFORE[1]
            self._last_low = self._lo[-1][1] if self._lo else _BEFORE[1]
