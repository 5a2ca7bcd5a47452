"""book_imbalance — a scalper on top-of-book pressure, with an EMA trend filter.

Imbalance = (bid size − ask size) / (bid size + ask size) at the best prices (bookTicker),
smoothed over ``imb_span`` quotes. Sustained bid-heavy books tend to precede upticks over
the next seconds; we go long when the smoothed imbalance is over ``threshold``, the mid is
above its EMA (``ema_span`` quotes) and the spread is tight, and short on the mirror image.
When depth diffs are available (``on_depth``, the @depth stream) the book within
``depth_bps`` of the mid must lean the same way, which filters out a lone big quote.
Stops sit at the band floor (``stop_pct``), target ``target_r`` R. Signals are at most one
per ``cooldown_ms`` per symbol. Quote-driven: needs a bookTicker feed, ignores bars.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tapedesk.engine.events import Depth, Quote, Side, Signal
from tapedesk.engine.indicators import EMA
from tapedesk.engine.strategies.notes import SkipNotes
from tapedesk.engine.strategies.wording import pct, price
from tapedesk.engine.strategy import Strategy, StrategyError, register


class _Book:
    """A local L2 book from a snapshot plus diffs (qty 0 removes a level)."""

    __slots__ = ("asks", "bids", "ready")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.ready = False

    def apply(self, depth: Depth) -> None:
        if depth.is_snapshot:
            self.bids.clear()
            self.asks.clear()
            self.ready = True
        for side, levels in ((self.bids, depth.bids), (self.asks, depth.asks)):
            for px, qty in levels:
                if qty == 0.0:
                    side.pop(px, None)
                else:
                    side[px] = qty

    def lean(self, mid: float, bps: float) -> float:
        """(bid qty − ask qty) / total within ``bps`` of mid; 0 when empty."""
        lo = mid * (1.0 - bps / 10_000.0)
        hi = mid * (1.0 + bps / 10_000.0)
        b = sum(q for p, q in self.bids.items() if p >= lo)
        a = sum(q for p, q in self.asks.items() if p <= hi)
        return (b - a) / (b + a) if b + a > 0.0 else 0.0


class _State:
    """Per-symbol state. The two EMAs are inlined floats (same arithmetic as
    :class:`engine.indicators.EMA`, seeded from the first value): on_quote runs on every
    bookTicker update, tens of thousands a minute on a busy symbol."""

    __slots__ = ("book", "ema", "imb", "last_signal_ts", "n")

    def __init__(self) -> None:
        self.ema = 0.0
        self.imb = 0.0
        self.n = 0
        self.book = _Book()
        self.last_signal_ts = -(1 << 62)


@register("book_imbalance")
class BookImbalance(SkipNotes, Strategy):
    """Top-of-book imbalance with an EMA filter; needs Quote (bookTicker) events."""

    PARAMS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "threshold": (float, 0.6, "smoothed imbalance (−1..1) needed to act"),
        "imb_span": (int, 20, "quotes in the imbalance smoothing EMA"),
        "ema_span": (int, 500, "quotes in the mid-price trend EMA"),
        "warmup": (int, 500, "quotes to see before the first signal"),
        "max_spread_bps": (float, 1.0, "skip when the spread is wider than this (bps)"),
        "depth_bps": (float, 5.0, "depth confirmation window around mid (bps); 0 = off"),
        "stop_pct": (float, 0.15, "stop distance, % of entry"),
        "target_r": (float, 1.5, "take-profit in R"),
        "cooldown_ms": (int, 30_000, "minimum time between signals on one symbol"),
    }

    def __init__(self, symbols: tuple[str, ...] | None = None, **params: Any) -> None:
        super().__init__(symbols, **params)
        p = self.params
        if not 0.0 < p["threshold"] < 1.0:
            raise StrategyError(f"{self.name}: threshold must be between 0 and 1")
        if p["stop_pct"] <= 0 or p["target_r"] <= 0:
            raise StrategyError(f"{self.name}: stop_pct and target_r must be > 0")
        self._stop = p["stop_pct"] / 100.0
        self._a_ema = EMA(p["ema_span"]).alpha
        self._a_imb = EMA(p["imb_span"]).alpha
        self._states: dict[str, _State] = {}
        self._init_notes()

    def _state(self, symbol: str) -> _State | None:
        st = self._states.get(symbol)
        if st is None:
            if self.symbols is not None and symbol not in self.symbols:
                return None
            st = self._states[symbol] = _State()
        return st

    def on_depth(self, depth: Depth) -> Signal | None:
        st = self._state(depth.symbol)
        if st is not None:
            st.book.apply(depth)
        return None

    def on_quote(self, quote: Quote) -> Signal | None:
        st = self._state(quote.symbol)
        if st is None:
            return None
        bid = quote.bid
        ask = quote.ask
        total = quote.bid_qty + quote.ask_qty
        if total <= 0.0 or ask <= bid:
            return None
        mid = (bid + ask) * 0.5
        x = (quote.bid_qty - quote.ask_qty) / total
        n = st.n = st.n + 1
        if n == 1:
            ema = st.ema = mid
            imb = st.imb = x
        else:
            ema = st.ema = st.ema + self._a_ema * (mid - st.ema)
            imb = st.imb = st.imb + self._a_imb * (x - st.imb)
        p = self.params
        if n < p["warmup"]:
            return None
        thr = p["threshold"]
        if imb >= thr and mid > ema:
            side = Side.LONG
        elif imb <= -thr and mid < ema:
            side = Side.SHORT
        else:
            return None
        if quote.ts - st.last_signal_ts < p["cooldown_ms"]:
            return None
        spread_bps = (ask - bid) / mid * 10_000.0
        if spread_bps > p["max_spread_bps"]:
            return None
        reasons = [
            f"Book {'bid' if side is Side.LONG else 'ask'}-heavy: imbalance {imb:+.2f} "
            f"over {p['imb_span']} quotes (threshold ±{thr:g})",
            f"mid {price(mid)} {'above' if side is Side.LONG else 'below'} its "
            f"{p['ema_span']}-quote EMA {price(ema)}; spread {spread_bps:.2f} bps",
        ]
        if p["depth_bps"] > 0 and st.book.ready:
            lean = st.book.lean(mid, p["depth_bps"])
            if lean * side.sign <= 0.0:
                st.last_signal_ts = quote.ts  # don't re-ask every quote
                self._note(
                    quote.ts,
                    quote.symbol,
                    f"{reasons[0]}, but depth within {p['depth_bps']:g} bps leans "
                    f"{lean:+.2f}: no trade",
                )
                return None
            reasons.append(f"depth within {p['depth_bps']:g} bps agrees ({lean:+.2f})")
        ctx = self.ctx
        if ctx is not None and ctx.position(quote.symbol) is not None:
            return None
        st.last_signal_ts = quote.ts
        s = side.sign
        entry = ask if side is Side.LONG else bid  # the price a taker would pay
        stop = entry * (1.0 - s * self._stop)
        tp = entry * (1.0 + s * self._stop * p["target_r"])
        reasons.append(f"stop {price(stop)} ({pct(self._stop)}), target {price(tp)}")
        return Signal(
            strategy=self.name,
            symbol=quote.symbol,
            side=side,
            ts=quote.ts,
            entry=entry,
            stop_loss=stop,
            take_profit=tp,
            confidence=min(0.9, 0.3 + abs(imb) * 0.5),
            reasons=reasons,
        )
