"""A simulated Binance USDT-M account: fills against the live or replayed market.

Realism choices, each a parameter (``PaperConfig``):
- Market orders fill at the *quote* (buy at ask, sell at bid) when the data has quotes, else
  at the next bar's open (``next-open``) or the signal bar's close (``close``), always moved
  against us by ``slippage_bps`` and rounded to the tick on the adverse side.
- Orders become active ``latency_ms`` after they are sent (event time).
- Stop-market and take-profit-market orders trigger intra-bar on the bar's low/high (or on
  the quote/trade price). If one bar reaches both, the **stop fills first**: a bar does not
  tell which came first, and assuming the worse is the honest default. A bar that opens
  beyond the trigger fills at the open (the gap), not at the trigger.
- Taker fee on market/stop fills, maker fee on resting limit fills.
- Funding at each symbol's own funding times (8 h, 4 h or 1 h) announced by its mark-price
  events, at their rate; a symbol without mark events every 8 h (00:00, 08:00, 16:00 UTC) at
  ``assumed_funding_bps_8h`` on the last price (engine/funding_schedule.py).
- Isolated-margin liquidation at Binance's formula (positions.liquidation_price): the whole
  isolated margin is lost, as on Binance (the rest goes to the insurance fund).
- Reduce-only: an order that would increase or open a position is rejected (Binance -2022).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tapedesk.engine.events import (
    Bar,
    Fill,
    Kind,
    Liquidity,
    MarketEvent,
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
)
from tapedesk.engine.funding_schedule import GRID_MS, FundingSchedule
from tapedesk.engine.paper_funding import PaperFunding
from tapedesk.engine.paper_state import (  # noqa: F401  (checkpoint.py reads positions so)
    _pos_from_dict,
    _pos_to_dict,
    load_venue_state,
    venue_state,
)
from tapedesk.engine.positions import PositionBook, set_isolated_margin
from tapedesk.engine.symbols import SymbolSpec, spec_for
from tapedesk.engine.venue import VenueSink

FUNDING_INTERVAL_MS = GRID_MS
_BAR, _QUOTE, _TRADE, _MARK = Kind.BAR, Kind.QUOTE, Kind.TRADE, Kind.MARK
_MARKET, _LIMIT = OrderType.MARKET, OrderType.LIMIT
_STOP, _TP = OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET
_MAKER, _TAKER = Liquidity.MAKER, Liquidity.TAKER
_NEW, _FILLED = OrderStatus.NEW, OrderStatus.FILLED
_LONG = Side.LONG
_RANK = {_MARKET: 0, _LIMIT: 1, _STOP: 2, _TP: 3}
BPS = Decimal("0.0001")
_FEE_STEP = Decimal("0.00000001")
_INF = float("inf")
#: The band of a symbol where every level is out of reach, and of one a market order waits on.
_OPEN_BAND, _ANY_PRICE = (-_INF, _INF), (_INF, -_INF)


class _Resting:
    """An accepted order waiting for its trigger or fill (trigger as float, precomputed)."""

    __slots__ = ("active_ts", "falls", "intent", "trig")

    def __init__(self, intent: OrderIntent, active_ts: int) -> None:
        self.intent = intent
        self.active_ts = active_ts
        self.trig = float(intent.stop_price or intent.price or 0)
        # True when it fills on a falling price (long stop, short take-profit, buy limit).
        self.falls = (intent.type is OrderType.STOP_MARKET) == (intent.side == "SELL")


class PaperVenue(PaperFunding):
    name = "paper"
    simulated = True
    #: False on a backtest venue with unlimited margin: nothing is ever liquidated.
    liquidates = True

    def __init__(
        self,
        balance: Decimal = Decimal(10_000),
        *,
        maker_fee_bps: float = 2.0,
        taker_fee_bps: float = 5.0,
        slippage_bps: float = 1.0,
        latency_ms: int = 50,
        fill_at: str = "auto",
        assumed_funding_bps_8h: float = 1.0,
        specs: dict[str, SymbolSpec] | None = None,
    ) -> None:
        self.balance = Decimal(balance)
        self.maker_fee = Decimal(str(maker_fee_bps)) * BPS
        self.taker_fee = Decimal(str(taker_fee_bps)) * BPS
        self.slippage = slippage_bps / 10_000.0
        self.latency_ms = latency_ms
        self.fill_at = fill_at
        self.assumed_funding = Decimal(str(assumed_funding_bps_8h)) * BPS
        self.specs = dict(specs or {})
        self.book = PositionBook()
        self.leverage: dict[str, int] = {}
        self.orders: dict[str, _Resting] = {}
        self.last_price: dict[str, float] = {}
        self.last_quote: dict[str, tuple[float, float]] = {}
        self.funding_paid = Decimal(0)
        self.fees_paid = Decimal(0)
        self._sink: VenueSink | None = None
        self._now = 0
        self._next_funding = 0  # the earliest funding time of any symbol (hot-path check)
        self._schedule = FundingSchedule()
        self._trade_seq = 0
        # Bumped whenever the resting orders or a position change: the sorted orders and the
        # trigger bands derived from them are rebuilt on the next event.
        self._order_version = 0
        self._sorted_cache: tuple[Any, list[_Resting]] = (None, [])
        self._bands: dict[str, tuple[float, float]] = {}
        self._band_version = -1

    # -- Venue protocol ------------------------------------------------------------------

    def bind(self, sink: VenueSink) -> None:
        self._sink = sink

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def spec(self, symbol: str) -> SymbolSpec:
        spec = self.specs.get(symbol)
        if spec is None:
            spec = self.specs[symbol] = spec_for(symbol)
        return spec

    def set_leverage(self, symbol: str, leverage: int) -> None:
        self.leverage[symbol] = leverage

    def submit(self, intent: OrderIntent) -> None:
        sink = self._sink
        assert sink is not None, "bind() the venue before submitting"
        why = self._reject_reason(intent)
        if why:
            sink.on_order_update(
                OrderUpdate(intent.client_id, intent.symbol, OrderStatus.REJECTED, self._now, why)
            )
            return
        sink.on_order_update(OrderUpdate(intent.client_id, intent.symbol, _NEW, self._now))
        resting = _Resting(intent, intent.ts + self.latency_ms)
        # An emergency close fills at once at the last known price: it must work even when
        # the market stream is dead and no further event would ever fill it.
        if intent.type is _MARKET and (self._fills_now() or intent.role is OrderRole.FLATTEN):
            self._fill_market(resting, self._now_price(intent), self._now)
            return
        self.orders[intent.client_id] = resting
        self._order_version += 1

    def cancel(self, symbol: str, client_id: str) -> None:
        resting = self.orders.pop(client_id, None)
        self._order_version += 1
        if resting is not None and self._sink is not None:
            self._sink.on_order_update(
                OrderUpdate(client_id, symbol, OrderStatus.CANCELED, self._now)
            )

    async def cancel_all(self, symbol: str | None = None) -> None:
        for cid, resting in list(self.orders.items()):
            if symbol is None or resting.intent.symbol == symbol:
                self.cancel(resting.intent.symbol, cid)

    async def fetch_positions(self) -> dict[str, Position]:
        return dict(self.book.positions)

    async def fetch_open_orders(self) -> list[OrderIntent]:
        return [r.intent for r in self.orders.values()]

    async def fetch_balance(self) -> Decimal:
        return self.balance

    def track(self, intents: list[OrderIntent], fills: Any = ()) -> None:
        """Nothing to do: a restored paper venue holds its own orders (``load_state``)."""

    # -- market data ---------------------------------------------------------------------

    def on_market(self, ev: MarketEvent) -> None:
        """Hot path: an event whose prices reach none of its symbol's levels (the trigger
        band) costs two comparisons, whatever rests and whatever is open."""
        ts = ev.ts
        self._now = ts
        # Funding first: it is owed by whoever held the position at the funding time, which
        # is before anything this event fills or triggers.
        if ts >= self._next_funding:
            self._funding(ts)
        kind = ev.kind
        sym = ev.symbol
        if kind is _BAR:
            low, high = ev.low, ev.high  # type: ignore[union-attr]
            if self._band_version != self._order_version:
                self._bands.clear()
                self._band_version = self._order_version
            lo, hi = self._bands.get(sym) or self._band(sym)
            if not (lo < low and high < hi):
                if self.orders:
                    self._on_bar(ev)  # type: ignore[arg-type]
                else:
                    self._check_liquidation(sym, low, high)
            self.last_price[sym] = ev.close  # type: ignore[union-attr]
        elif kind is _QUOTE:
            bid, ask = ev.bid, ev.ask  # type: ignore[union-attr]
            self.last_quote[sym] = (bid, ask)
            self._on_price(sym, bid, ask, ts)
            self.last_price[sym] = (bid + ask) / 2
        elif kind is _TRADE:
            px = ev.price  # type: ignore[union-attr]
            self._on_price(sym, px, px, ts)
            self.last_price[sym] = px
        elif kind is _MARK:
            # The rate an event carries is the estimate for the *next* funding time, so it is
            # stored after this event's settlement above used the previous one.
            due = self._schedule.announce(sym, ts, ev.mark, ev.funding_rate,  # type: ignore[union-attr]
                                          ev.next_funding_ts)  # type: ignore[union-attr]
            if due < self._next_funding:
                self._next_funding = due
            self._check_liquidation(sym, ev.mark, ev.mark)  # type: ignore[union-attr]

    def _band(self, sym: str) -> tuple[float, float]:
        """``(lo, hi)``: the highest level a falling price triggers (long stops, short
        targets, buy limits, a long's liquidation) and the lowest a rising one does. Prices
        strictly inside touch nothing. Conservative: orders not yet active count too."""
        lo, hi = -_INF, _INF
        for resting in self.orders.values():
            if resting.intent.symbol != sym:
                continue
            if resting.intent.type is _MARKET:
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
            lp = float(pos.liquidation_price)
            if pos.side is _LONG:
                lo = max(lo, lp)
            else:
                hi = min(hi, lp)
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
            for resting in [r for r in orders.values() if r.intent.symbol == sym]:
                intent = resting.intent
                hit = (low <= resting.trig) if resting.falls else (high >= resting.trig)
                if intent.type is _STOP and intent.ts >= bar.open_ts and hit:
                    self._fill_market(resting, resting.trig, bar.ts)
        self._check_liquidation(sym, low, high)

    def _on_price(self, sym: str, bid: float, ask: float, ts: int) -> None:
        if self._band_version != self._order_version:
            self._bands.clear()
            self._band_version = self._order_version
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

    # -- helpers -------------------------------------------------------------------------

    def _sorted_orders(self, sym: str) -> list[_Resting]:
        """This symbol's orders: market, limit, then stops before take-profits.

        Cached until the order set changes (an event that reaches a level may find it again
        on the next event, e.g. a limit order the price hovers at)."""
        key = (sym, len(self.orders), self._order_version)
        if self._sorted_cache[0] == key:
            return self._sorted_cache[1]
        mine = [r for r in self.orders.values() if r.intent.symbol == sym]
        mine.sort(key=lambda r: _RANK[r.intent.type])
        self._sorted_cache = (key, mine)
        return mine

    def _fills_now(self) -> bool:
        if self.latency_ms and self.fill_at != "close":
            return False
        return self.fill_at == "close" or (
            self.fill_at in ("auto", "quote") and bool(self.last_quote)
        )

    def _now_price(self, intent: OrderIntent) -> float:
        quote = self.last_quote.get(intent.symbol)
        if quote is not None and self.fill_at != "close":
            return quote[1] if intent.side == "BUY" else quote[0]
        return self.last_price.get(intent.symbol, 0.0)

    def _reject_reason(self, intent: OrderIntent) -> str:
        sym = intent.symbol
        spec = self.specs.get(sym) or self.spec(sym)
        if intent.reduce_only:
            pos = self.book.positions.get(sym)
            if pos is None or _opens(pos) == intent.side:
                return "-2022 ReduceOnly Order is rejected: it would not reduce the position"
            return ""
        price = intent.price or Decimal(str(self.last_price.get(sym) or 0))
        if price <= 0:
            return "no market price yet: the order cannot be valued"
        problem = spec.check_order(intent.qty, price)
        if problem:
            return f"-4164 {problem}"
        need = intent.qty * price / self.leverage.get(sym, 1)
        if need > self.available():
            return f"-2019 Margin is insufficient: needs {need:.2f} USDT, {self.available():.2f} available"
        return ""

    def available(self) -> Decimal:
        used = Decimal(0)
        for pos in self.book.positions.values():
            used += pos.margin
        return self.balance - used

    def _fill_market(self, resting: _Resting, price: float, ts: int) -> None:
        sym = resting.intent.symbol
        spec = self.specs.get(sym) or self.spec(sym)
        if resting.intent.side == "BUY":
            px = spec.round_price(price * (1 + self.slippage), "up")
        else:
            px = spec.round_price(price * (1 - self.slippage), "down")
        self._fill(resting, px, _TAKER, ts)

    def _fill(self, resting: _Resting, price: Decimal, liq: Liquidity, ts: int) -> None:
        intent = resting.intent
        cid, sym = intent.client_id, intent.symbol
        self.orders.pop(cid, None)
        self._order_version += 1
        sink = self._sink
        assert sink is not None
        qty = intent.qty
        if intent.reduce_only:
            pos = self.book.positions.get(sym)
            if pos is None or _opens(pos) == intent.side:
                sink.on_order_update(OrderUpdate(
                    cid, sym, OrderStatus.EXPIRED, ts,
                    "reduce-only order expired: no position left to reduce"))
                return
            qty = min(qty, pos.qty)
        rate = self.maker_fee if liq is _MAKER else self.taker_fee
        fee = (price * qty * rate).quantize(_FEE_STEP)
        self._trade_seq += 1
        fill = Fill(cid, sym, intent.side, qty, price, fee, ts, liq, intent.role, 1,
                    f"P{self._trade_seq}")
        self._apply(fill)
        sink.on_order_update(OrderUpdate(cid, sym, _FILLED, ts, "", qty, price))
        sink.on_fill(fill)

    def _apply(self, fill: Fill) -> None:
        sym = fill.symbol
        effect = self.book.apply(fill, self.leverage.get(sym, 1))
        self.balance += effect.realized_gross - fill.fee
        self.fees_paid += fill.fee
        pos = self.book.positions.get(sym)
        if pos is not None:
            set_isolated_margin(pos, self.specs.get(sym) or self.spec(sym))
        self._order_version += 1  # the liquidation price moved: rebuild the trigger band

    def _check_liquidation(self, sym: str, low: float, high: float) -> None:
        pos = self.book.positions.get(sym)
        if pos is None or not pos.liquidation_price:
            return
        lp = pos.liquidation_price
        long = pos.side is _LONG
        hit = low <= float(lp) if long else high >= float(lp)
        if not hit:
            return
        # Binance takes the whole isolated margin: price loss to LP plus the clearance fee.
        price_loss = (lp - pos.entry_price) * pos.qty * pos.side.sign
        fee = max(pos.margin + price_loss, Decimal(0))
        self._trade_seq += 1
        fill = Fill(f"liq-{self._trade_seq}", sym, "SELL" if long else "BUY", pos.qty, lp, fee,
                    self._now, _TAKER, OrderRole.LIQUIDATION, 1, f"P{self._trade_seq}")
        self._apply(fill)
        assert self._sink is not None
        self._sink.on_fill(fill)

    # -- persistence (restart after a crash continues where the journal left off) -------

    def to_state(self) -> dict[str, Any]:
        return venue_state(self)

    def load_state(self, state: dict[str, Any]) -> None:
        self.orders = {}
        for intent, active_ts in load_venue_state(self, state):
            self.orders[intent.client_id] = _Resting(intent, active_ts)
        self._order_version += 1


def _opens(pos: Position) -> str:
    """The order side that opens (adds to) ``pos``: a reduce-only order on it is refused."""
    return "BUY" if pos.side is _LONG else "SELL"
