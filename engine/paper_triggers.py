"""Which resting paper orders a market event reaches: stops, take-profits, limits, and the
liquidation level, on a bar's range or a quote's bid/ask.

Kept apart from what a fill then does to the books (paper_venue.py). While a position is
open its stop and target are checked on every event, so each symbol keeps a *trigger band*:
the nearest level below and above, as floats. An event strictly inside it reaches nothing
and costs two comparisons; the band is dropped when anything changes the order set or a
position (the venue's ``_changed``) and rebuilt on the next event.
"""

from __future__ import annotations

from decimal import Decimal
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from tapedesk.engine.events import Bar, Liquidity, OrderIntent, OrderType, Side
from tapedesk.engine.positions import PositionBook

_MARKET, _LIMIT = OrderType.MARKET, OrderType.LIMIT
_STOP, _TP = OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET
_MAKER = Liquidity.MAKER
_LONG = Side.LONG
_RANK = {_MARKET: 0, _LIMIT: 1, _STOP: 2, _TP: 3}
_by_rank = attrgetter("rank")
_INF = float("inf")
#: The band of a symbol where every level is out of reach, and of one a market order waits on.
_OPEN_BAND, _ANY_PRICE = (-_INF, _INF), (_INF, -_INF)


class _Resting:
    """An accepted order waiting for its trigger or fill (trigger as float, precomputed)."""

    __slots__ = ("active_ts", "falls", "intent", "rank", "symbol", "trig")

    def __init__(self, intent: OrderIntent, active_ts: int) -> None:
        self.intent = intent
        self.symbol = intent.symbol
        self.active_ts = active_ts
        self.trig = float(intent.stop_price or intent.price or 0)
        # True when it fills on a falling price (long stop, short take-profit, buy limit).
        self.falls = (intent.type is _STOP) == (intent.side == "SELL")
        self.rank = _RANK[intent.type]


class PaperTriggers:
    """Trigger matching of ``PaperVenue`` (a mixin: fills go to the venue's ``_fill``)."""

    orders: dict[str, _Resting]
    book: PositionBook
    liquidates: bool
    _order_version: int
    _bands: dict[str, tuple[float, float]]
    _sorted_cache: tuple[Any, list[_Resting]]
    _liq_float: tuple[Decimal | None, float]

    if TYPE_CHECKING:  # the venue's own: what a reached order does to the books

        def _fill_market(self, resting: _Resting, price: float, ts: int) -> None: ...

        def _fill(self, resting: _Resting, price: Decimal, liq: Liquidity, ts: int) -> None:
            ...

        def _check_liquidation(self, sym: str, low: float, high: float) -> None: ...

    def _band(self, sym: str) -> tuple[float, float]:
        """``(lo, hi)``: the highest level a falling price triggers (long stops, short
        targets, buy limits, a long's liquidation) and the lowest a rising one does. Prices
        strictly inside touch nothing. Conservative: orders not yet active count too."""
        lo, hi = -_INF, _INF
        for resting in self.orders.values():
            if resting.symbol != sym:
                continue
            if resting.rank == 0:  # a market order: it fills on the next event, at any price
                lo, hi = _ANY_PRICE
                break
            trig = resting.trig
            if resting.falls:
                if trig > lo:
                    lo = trig
            elif trig < hi:
                hi = trig
        pos = self.book.positions.get(sym)
        if pos is not None and pos.liquidation_price and self.liquidates:
            seen, lp = self._liq_float  # float(level), converted once per level (below)
            if seen is not pos.liquidation_price:
                lp = self._liq_level(pos.liquidation_price)
            if pos.side is _LONG:  # max()/min() without the builtin call (same picks)
                if lp > lo:
                    lo = lp
            elif lp < hi:
                hi = lp
        band = _OPEN_BAND if lo == -_INF and hi == _INF else (lo, hi)
        self._bands[sym] = band
        return band

    def _on_bar(self, bar: Bar) -> None:
        sym = bar.symbol
        orders = self.orders
        version = self._order_version
        low, high, bar_open = bar.low, bar.high, bar.open
        # Entries and plain market orders first (they fill at this bar's open), then stops
        # before take-profits so a bar that touches both counts as a loss.
        for resting in self._sorted_orders(sym):
            intent = resting.intent
            if intent.client_id not in orders or resting.active_ts > bar.ts:
                continue
            typ = intent.type
            if typ is _STOP or typ is _TP:
                trig = resting.trig
                if (low <= trig) if resting.falls else (high >= trig):
                    gap = bar_open <= trig if resting.falls else bar_open >= trig
                    self._fill_market(resting, bar_open if gap else trig, bar.ts)
            elif typ is _MARKET:
                self._fill_market(resting, bar_open, bar.open_ts)
            elif typ is _LIMIT:
                px = resting.trig
                if (intent.side == "BUY" and low < px) or (intent.side == "SELL" and high > px):
                    self._fill(resting, intent.price or Decimal(0), _MAKER, bar.ts)
        if self._order_version != version:
            # A stop placed after an entry filled at this bar's open is live for the rest of
            # the bar; the bar cannot say whether its low came before or after, so assume
            # after (the worse case). Take-profits placed mid-bar wait for the next bar.
            open_ts = bar.open_ts
            # A copy, as a fill changes the dict; filtered in the loop: a comprehension is a
            # function call of its own in CPython 3.11 (~130 ns on each fill's bar).
            for resting in [*orders.values()]:
                if resting.symbol != sym or resting.intent.type is not _STOP:
                    continue
                trig = resting.trig
                if resting.intent.ts >= open_ts and (
                        (low <= trig) if resting.falls else (high >= trig)):
                    self._fill_market(resting, trig, bar.ts)
        self._check_liquidation(sym, low, high)

    def _on_price(self, sym: str, bid: float, ask: float, ts: int) -> None:
        lo, hi = self._bands.get(sym) or self._band(sym)
        # A sell level watches the bid, a buy level the ask: both must be out of reach.
        if lo < bid and lo < ask and bid < hi and ask < hi:
            return
        if not self.orders:
            self._check_liquidation(sym, bid, ask)
            return
        for resting in self._sorted_orders(sym):
            if resting.intent.client_id not in self.orders or resting.active_ts > ts:
                continue
            intent = resting.intent
            typ = intent.type
            if typ is _MARKET:
                self._fill_market(resting, ask if intent.side == "BUY" else bid, ts)
            elif typ is _STOP or typ is _TP:
                trig = resting.trig
                # A sell trigger watches the bid, a buy trigger the ask: where it would fill.
                px = bid if intent.side == "SELL" else ask
                if (px <= trig) if resting.falls else (px >= trig):
                    self._fill_market(resting, px, ts)
            elif typ is _LIMIT:
                px = resting.trig
                if (intent.side == "BUY" and ask <= px) or (intent.side == "SELL" and bid >= px):
                    self._fill(resting, intent.price or Decimal(0), _MAKER, ts)
        self._check_liquidation(sym, bid, ask)

    def _sorted_orders(self, sym: str) -> list[_Resting]:
        """This symbol's orders: market, limit, then stops before take-profits.

        Cached until the order set changes (an event that reaches a level may find it again
        on the next event, e.g. a limit order the price hovers at)."""
        key = (sym, len(self.orders), self._order_version)
        if self._sorted_cache[0] == key:
            return self._sorted_cache[1]
        mine = []  # a loop, not a comprehension (a function call of its own in CPython 3.11)
        for resting in self.orders.values():
            if resting.symbol == sym:
                mine.append(resting)
        if len(mine) > 1:
            mine.sort(key=_by_rank)
        self._sorted_cache = (key, mine)
        return mine

    def _liq_level(self, lp: Decimal) -> float:
        """``float(lp)``, kept with ``lp`` in ``_liq_float``: the band and every bar that
        reaches it ask again, and a level changes only with a fill (a new Decimal object;
        identity, not ==, so a level is never mistaken for another)."""
        level = float(lp)
        self._liq_float = (lp, level)
        return level
