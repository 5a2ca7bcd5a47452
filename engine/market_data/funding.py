"""Downloaded funding history → ``MarkPrice`` events merged into a bar stream, so the paper
venue settles each funding at Binance's real rate through its one funding rule
(``PaperVenue._settle_funding``: positive rate, longs pay shorts).

The venue uses the rate of the last mark event seen before a funding time, so the rate for
time T is emitted at T - 1 ms: right after the bar that closes then (valued at the
mark-price kline's close when downloaded, else that bar's close), or before the first bar
after T when the data has a gap there. Once T has passed, the next record's time is announced
(with T's rate, as the live markPrice stream does right after a funding), so the venue knows
a symbol's interval changed before the time the old one would have predicted. Rates are
loaded a month at a time as the stream reaches it; a stream for which nothing is downloaded
passes through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from tapedesk.engine.events import Kind, MarketEvent, MarkPrice
from tapedesk.engine.feeds.columnar import ColumnsError as StoreError
from tapedesk.engine.market_data.archive import INTERVALS, interval_ms, month_of_ms, month_text
from tapedesk.engine.market_data.store import market_root, month_bars, month_funding, stored_months

HOUR_MS = 3_600_000
_BAR = Kind.BAR
_INTERVAL_NAMES = {interval_ms(i): i for i in INTERVALS}


class _Symbol:
    """One symbol's rates, loaded month by month as the stream advances."""

    def __init__(self, root: Path, symbol: str) -> None:
        self.root, self.symbol = root, symbol
        self.months = stored_months(root, "funding", symbol, "")
        self.loaded: set[str] = set()
        self.rates: list[tuple[int, float]] = []
        self.marks: dict[int, float] = {}
        self.i = 0
        self.prev_ts: int | None = None
        self.last_close = 0.0
        self.missing: list[str] = []
        self.used = 0
        self.pending = 0  # a funding time emitted and not yet passed
        self.pending_rate = 0.0

    def load(self, month: str, interval: int) -> None:
        self.loaded.add(month)
        path = self.months.get(month)
        if path is None:
            if self.used:
                self.missing.append(month)
            return
        try:
            got = [((t + HOUR_MS // 2) // HOUR_MS * HOUR_MS, r) for t, r in month_funding(path)]
        except (OSError, StoreError):
            self.missing.append(month)
            return
        self.rates = self.rates[self.i:] + got
        self.i = 0
        self._load_marks(month, interval, {t for t, _ in got})

    def _load_marks(self, month: str, step: int, times: set[int]) -> None:
        name = _INTERVAL_NAMES.get(step)
        path = stored_months(self.root, "mark", self.symbol, name).get(month) if name else None
        if path is None or name is None:
            return
        try:
            bars = month_bars(path, self.symbol, name)
        except (OSError, StoreError):
            return
        self.marks.update((b.open_ts + step, b.close) for b in bars if b.open_ts + step in times)


def with_funding(events: Iterator[MarketEvent], root: Path,
                 notes: Callable[[str], None] | None = None) -> Iterator[MarketEvent]:
    """``events`` with the downloaded funding of each bar's symbol merged in (``events``
    itself, no extra layer per event, when nothing is downloaded)."""
    if not (root / "binance-um" / "fundingRate").is_dir():
        return events
    return _merged(events, root, notes)


def _merged(events: Iterator[MarketEvent], root: Path,
            notes: Callable[[str], None] | None) -> Iterator[MarketEvent]:
    syms: dict[str, _Symbol | None] = {}
    for ev in events:
        if ev.kind is not _BAR:
            yield ev
            continue
        sym = ev.symbol
        st = syms.get(sym, False)
        if st is False:
            st = syms[sym] = _Symbol(root, sym) if stored_months(root, "funding", sym, "") \
                else None
        if st is None:
            yield ev
            continue
        ts = ev.ts
        month = month_text(month_of_ms(ts))
        if month not in st.loaded:
            st.load(month, ev.ts - ev.open_ts + 1)  # type: ignore[union-attr]
        rates, n = st.rates, len(st.rates)
        prev = ts if st.prev_ts is None else st.prev_ts
        while st.i < n and rates[st.i][0] - 1 < ts:  # funding inside a gap before this bar
            t, rate = rates[st.i]
            st.i += 1
            if t - 1 >= prev:
                yield MarkPrice(sym, t - 1, st.marks.get(t) or st.last_close or ev.open,  # type: ignore[union-attr]
                                rate, t)
                st.used += 1
                st.pending, st.pending_rate = t, rate
        yield ev
        if st.pending and ts >= st.pending:
            st.pending = 0
            if st.i < n and rates[st.i][0] - 1 > ts:
                yield MarkPrice(sym, ts, ev.close, st.pending_rate, rates[st.i][0])  # type: ignore[union-attr]
        st.last_close = ev.close  # type: ignore[union-attr]
        st.prev_ts = ts
        while st.i < n and rates[st.i][0] - 1 == ts:
            t, rate = rates[st.i]
            st.i += 1
            yield MarkPrice(sym, ts, st.marks.get(t) or ev.close, rate, t)  # type: ignore[union-attr]
            st.used += 1
            st.pending, st.pending_rate = t, rate
    if notes is not None:
        for sym, st in syms.items():
            if st is None:
                continue
            valued = "mark-price klines" if st.marks else "the last close (no mark-price klines)"
            line = (f"{sym}: funding from the downloaded history: {st.used} rates applied, "
                    f"valued at {valued}")
            if st.missing:
                line += (f"; no history for {', '.join(st.missing)}: the last rate carries "
                         "on there")
            notes(line)


def with_downloaded_funding(events: Iterator[MarketEvent], data: str | Path | None,
                            notes: Callable[[str], None] | None = None,
                            ) -> Iterator[MarketEvent]:
    """``with_funding`` for the data dir a command uses (``--data-dir`` or the default)."""
    from tapedesk.engine.paths import data_dir

    return with_funding(events, market_root(data_dir(data, create=False)), notes)

