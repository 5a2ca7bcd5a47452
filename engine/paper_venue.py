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
from tapedesk.engine.paper_triggers import PaperTriggers, _Resting
from tapedesk.engine.positions import PositionBook, decimal_price, set_isolated_margin
from tapedesk.engine.symbols import SymbolSpec, spec_for
from tapedesk.engine.venue import VenueSink

FUNDING_INTERVAL_MS = GRID_MS
_BAR, _QUOTE, _TRADE, _MARK = Kind.BAR, Kind.QUOTE, Kind.TRADE, Kind.MARK
_MARKET = OrderType.MARKET
_MAKER, _TAKER = Liquidity.MAKER, Liquidity.TAKER
_NEW, _FILLED, _REJECTED, _CANCELED = (OrderStatus.NEW, OrderStatus.FILLED,
                                       OrderStatus.REJECTED, OrderStatus.CANCELED)
_FLATTEN = OrderRole.FLATTEN
_LONG = Side.LONG
BPS = Decimal("0.0001")
_ZERO = Decimal(0)
_FEE_STEP = Decimal("0.00000001")  # fees are kept to 8 decimals, as Binance reports them


class PaperVenue(PaperTriggers, PaperFunding):
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
        # Bumped whenever the resting orders or a position change (``_changed``): the sorted
        # orders are rebuilt on the next event; the trigger bands are dropped at once, so the
        # per-event test is one dict lookup.
        self._order_version = 0
        self._sorted_cache: tuple[Any, list[_Resting]] = (None, [])
        self._bands: dict[str, tuple[float, float]] = {}
        self._liq_float: tuple[Decimal | None, float] = (None, 0.0)  # see _liq_level
        self._up = 1 + self.slippage  # a market fill's price moves against us by this factor
        self._down = 1 - self.slippage

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
                OrderUpdate(intent.client_id, intent.symbol, _REJECTED, self._now, why)
            )
            return
        cid = intent.client_id
        sink.on_order_update(OrderUpdate(cid, intent.symbol, _NEW, self._now))
        resting = _Resting(intent, intent.ts + self.latency_ms)
        # An emergency close fills at once at the last known price: it must work even when
        # the market stream is dead and no further event would ever fill it.
        if intent.type is _MARKET and (self._fills_now() or intent.role is _FLATTEN):
            self._fill_market(resting, self._now_price(intent), self._now)
            return
        self.orders[cid] = resting
        self._order_version += 1  # _changed() inlined here, in cancel and _apply: a call
        self._bands.clear()  # costs ~800 instructions, and these run several times a trade

    def cancel(self, symbol: str, client_id: str) -> None:
        resting = self.orders.pop(client_id, None)
        self._order_version += 1  # _changed(), inlined (see submit)
        self._bands.clear()
        if resting is not None and self._sink is not None:
            self._sink.on_order_update(
                OrderUpdate(client_id, symbol, _CANCELED, self._now)
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

    def track(self, intents: list[OrderIntent], fills: Any = (), unanswered: Any = ()) -> None:
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
        sym = ev.symbol
        # The type test first, as in Engine.process: ``kind`` is a class attribute, which
        # CPython 3.11 reads through the generic lookup (on every bar).
        if type(ev) is Bar or ev.kind is _BAR:
            lo, hi = self._bands.get(sym) or self._band(sym)
            low, high = ev.low, ev.high  # type: ignore[union-attr]
            if not (lo < low and high < hi):
                if self.orders:
                    self._on_bar(ev)  # type: ignore[arg-type]
                else:
                    self._check_liquidation(sym, low, high)
            self.last_price[sym] = ev.close  # type: ignore[union-attr]
            return
        kind = ev.kind
        if kind is _QUOTE:
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

    # -- helpers -------------------------------------------------------------------------

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
        if intent.reduce_only:  # every stop and target: the position is all it needs
            pos = self.book.positions.get(sym)
            if pos is None or pos.side.order_side == intent.side:
                return "-2022 ReduceOnly Order is rejected: it would not reduce the position"
            return ""
        spec = self.specs.get(sym) or self.spec(sym)
        price = intent.price or decimal_price(self.last_price.get(sym) or 0)
        if price <= _ZERO:  # not 0: comparing with an int converts it first
            return "no market price yet: the order cannot be valued"
        problem = spec.check_order(intent.qty, price)
        if problem:
            return f"-4164 {problem}"
        need = intent.qty * price
        lev = self.leverage.get(sym, 1)
        if lev != 1:  # at 1x the notional is the need: ``/ 1`` gives its digits and exponent
            need = need / lev
        if need > self.available():
            return self._short_of_margin(need)
        return ""

    def _short_of_margin(self, need: Decimal) -> str:
        """Why an order needing ``need`` USDT of margin is refused (a backtest may count it,
        or lift the limit)."""
        return f"-2019 Margin is insufficient: needs {need:.2f} USDT, {self.available():.2f} available"

    def available(self) -> Decimal:
        used = _ZERO
        for pos in self.book.positions.values():
            used += pos.margin
        return self.balance - used

    def _fill_market(self, resting: _Resting, price: float, ts: int) -> None:
        intent = resting.intent
        sym = intent.symbol
        spec = self.specs.get(sym) or self.spec(sym)
        if intent.side == "BUY":
            px = spec.round_price(price * self._up, "up")
        else:
            px = spec.round_price(price * self._down, "down")
        self._fill(resting, px, _TAKER, ts)

    def _fill(self, resting: _Resting, price: Decimal, liq: Liquidity, ts: int) -> None:
        intent = resting.intent
        cid, sym = intent.client_id, intent.symbol
        self.orders.pop(cid, None)  # _apply marks the change (_changed)
        sink = self._sink
        assert sink is not None
        qty = intent.qty
        if intent.reduce_only:
            pos = self.book.positions.get(sym)
            if pos is None or pos.side.order_side == intent.side:
                self._changed()
                sink.on_order_update(OrderUpdate(
                    cid, sym, OrderStatus.EXPIRED, ts,
                    "reduce-only order expired: no position left to reduce"))
                return
            if pos.qty < qty:  # min(qty, pos.qty) without the builtin call
                qty = pos.qty
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
        # _changed(), inlined (see submit): the liquidation price moved, the band is stale.
        self._order_version += 1
        self._bands.clear()

    def _check_liquidation(self, sym: str, low: float, high: float) -> None:
        pos = self.book.positions.get(sym)
        if pos is None or not pos.liquidation_price:
            return
        lp = pos.liquidation_price
        seen, level = self._liq_float  # runs after every bar that reached a level
        if seen is not lp:
            level = self._liq_level(lp)
        long = pos.side is _LONG
        if not (low <= level if long else high >= level):
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
        self._changed()

    def _changed(self) -> None:
        """The resting orders or a position changed: what the trigger checks derived from
        them is stale (``_on_bar`` also compares the version to see a fill it caused).
        ``submit``, ``cancel`` and ``_apply`` do the same two lines inline."""
        self._order_version += 1
        self._bands.clear()
