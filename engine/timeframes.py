"""Higher-timeframe bars built from the base (1m) stream, aligned to UTC, never early.

A 15m bar exists only once its last 1m bar has closed: :class:`Resampler` emits it on that
bar (or, if the feed skipped minutes, on the first bar of a later bucket — the missing
minutes cannot arrive any more). Buckets are aligned to the Unix epoch, which is UTC, so
1h bars start on the hour, 4h bars at 00/04/08/12/16/20 UTC and 1d bars at 00:00 UTC as
Binance draws them. Nothing is emitted from a bucket that is still open, so a strategy that
reads higher-timeframe bars sees exactly what it could have seen live.
"""

from __future__ import annotations

from tapedesk.engine.events import Bar

_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def timeframe_ms(tf: str) -> int:
    """'1m' → 60000, '4h' → 14400000, '1d' → 86400000; a clear error for anything else."""
    text = tf.strip().lower()
    if len(text) < 2 or text[-1] not in _UNITS or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise ValueError(f"timeframe {tf!r} is not like 1m, 5m, 15m, 1h, 4h or 1d")
    ms = int(text[:-1]) * _UNITS[text[-1]]
    if 86_400_000 % ms and ms % 86_400_000:
        raise ValueError(f"timeframe {tf!r} does not divide a UTC day evenly")
    return ms


class Resampler:
    """Folds base bars of one symbol into ``tf`` bars; ``update`` returns a bar when complete.

    The emitted bar has ``open_ts`` = bucket start and ``ts`` = bucket end - 1 ms (Binance's
    kline close time). ``count`` says how many base bars went in (less than expected when
    the feed had gaps).
    """

    __slots__ = ("_c", "_end", "_h", "_l", "_o", "_start", "_v", "count", "ms", "symbol", "tf")

    def __init__(self, tf: str, symbol: str = "") -> None:
        self.tf = tf
        self.ms = timeframe_ms(tf)
        self.symbol = symbol
        self._start = -1
        self._end = -1
        self._o = self._h = self._l = self._c = self._v = 0.0
        self.count = 0

    def _emit(self) -> Bar:
        bar = Bar(
            self.symbol, self._start, self._end - 1, self._o, self._h, self._l, self._c, self._v
        )
        self.count = 0
        self._start = -1
        return bar

    def update(self, bar: Bar) -> Bar | None:
        """Feed one closed base bar. Returns the completed higher bar, or None.

        At most one bar is returned per call: if a gap closes the previous bucket and the new
        base bar also completes its own bucket (only possible when tf equals the base
        interval), the previous one is returned and the new one starts; use
        :meth:`update_all` when that matters.
        """
        out = self.update_all(bar)
        return out[-1] if out else None

    def update_all(self, bar: Bar) -> list[Bar]:
        ms = self.ms
        start = bar.open_ts - bar.open_ts % ms
        out: list[Bar] = []
        if self._start != start:
            if self._start >= 0:  # gap: the old bucket can receive nothing more
                out.append(self._emit())
            self.symbol = bar.symbol
            self._start = start
            self._end = start + ms
            self._o = bar.open
            self._h = bar.high
            self._l = bar.low
            self._c = bar.close
            self._v = bar.volume
            self.count = 1
        else:
            if bar.high > self._h:
                self._h = bar.high
            if bar.low < self._l:
                self._l = bar.low
            self._c = bar.close
            self._v += bar.volume
            self.count += 1
        # Complete when the base bar's close time reaches the bucket end (either the
        # Binance "end - 1 ms" convention or "end").
        if bar.ts >= self._end - 1:
            out.append(self._emit())
        return out


class Timeframes:
    """Several resamplers per symbol: ``update(bar)`` → list of (tf, completed bar).

    A strategy that wants 15m and 1h context holds one of these and feeds it every 1m bar.
    """

    __slots__ = ("_by_symbol", "tfs")

    def __init__(self, tfs: tuple[str, ...] | list[str]) -> None:
        for tf in tfs:
            timeframe_ms(tf)
        self.tfs = tuple(tfs)
        self._by_symbol: dict[str, list[Resampler]] = {}

    def update(self, bar: Bar) -> list[tuple[str, Bar]]:
        rs = self._by_symbol.get(bar.symbol)
        if rs is None:
            rs = self._by_symbol[bar.symbol] = [Resampler(tf, bar.symbol) for tf in self.tfs]
        out: list[tuple[str, Bar]] = []
        for r in rs:
            for done in r.update_all(bar):
                out.append((r.tf, done))
        return out
