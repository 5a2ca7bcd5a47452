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
)
from tapedesk.engine.funding_schedule import GRID_MS, FundingSchedule
from tapedesk.engine.positions import PositionBook, set_isolated_margin
from tapedesk.engine.symbols import SymbolSpec, spec_for
from tapedesk.engine.venue import VenueSink

FUNDING_INTERVAL_MS = GRID_MS
_BAR, _QUOTE, _TRADE, _MARK = Kind.BAR, Kind.QUOTE, Kind.TRADE, Kind.MARK
_STOP, _TP = OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET
_RANK = {
    OrderType.MARKET: 0,
    OrderType.LIMIT: 1,
    OrderType.STOP_MARKET: 2,
    OrderType.TAKE_PROFIT_MARKET: 3,
}
BPS = Decimal("0.0001")
_FEE_STEP = Decimal("0.00000001")  # fees are kept to 8 decimals, as Binance reports them


class _Resting:
    """An accepted order waiting for its trigger or fill (trigger as float, precomputed)."""

    __slots__ = ("active_ts", "falls", "intent", "trig")

    def __init__(self, intent: OrderIntent, active_ts: int) -> None:
        self.intent = intent
        self.active_ts = active_ts
        self.trig = float(intent.stop_price or intent.price or 0)
        # True when it triggers on a falling price (long stop, short take-profit).
        self.falls = (intent.type is OrderType.STOP_MARKET) == (intent.side == "SELL")


class PaperVenue:
    name = "paper"
    simulated = True

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
        self._order_version = 0
        self._sorted_cache: tuple[Any, list[_Resting]] = (None, [])

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
        sink.on_order_update(
            OrderUpdate(intent.client_id, intent.symbol, OrderStatus.NEW, self._now)
        )
        resting = _Resting(intent, intent.ts + self.latency_ms)
        # An emergency close fills at once at the last known price: it must work even when
        # the market stream is dead and no further event would ever fill it.
        if intent.type is OrderType.MARKET and (
            self._fills_now() or intent.role is OrderRole.FLATTEN
        ):
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
        """Hot path: cheap when flat with nothing resting (the common case)."""
        ts = ev.ts
        self._now = ts
        # Funding first: it is owed by whoever held the position at the funding time, which
        # is before anything this event fills or triggers.
        if ts >= self._next_funding:
            self._funding(ts)
        kind = ev.kind
        if kind is _BAR:
            if self.orders:
                self._on_bar(ev)  # type: ignore[arg-type]
            elif self.book.positions:
                self._check_liquidation(ev.symbol, ev.low, ev.high)  # type: ignore[union-attr]
            self.last_price[ev.symbol] = ev.close  # type: ignore[union-attr]
        elif kind is _QUOTE:
            self.last_quote[ev.symbol] = (ev.bid, ev.ask)  # type: ignore[union-attr]
            if self.orders:
                self._on_price(ev.symbol, ev.bid, ev.ask, ts)  # type: ignore[union-attr]
            elif self.book.positions:
                self._check_liquidation(ev.symbol, ev.bid, ev.ask)  # type: ignore[union-attr]
            self.last_price[ev.symbol] = (ev.bid + ev.ask) / 2  # type: ignore[union-attr]
        elif kind is _TRADE:
            if self.orders:
                self._on_price(ev.symbol, ev.price, ev.price, ts)  # type: ignore[union-attr]
            elif self.book.positions:
                self._check_liquidation(ev.symbol, ev.price, ev.price)  # type: ignore[union-attr]
            self.last_price[ev.symbol] = ev.price  # type: ignore[union-attr]
        elif kind is _MARK:
            # The rate an event carries is the estimate for the *next* funding time, so it is
            # stored after this event's settlement above used the previous one.
            due = self._schedule.announce(ev.symbol, ts, ev.mark, ev.funding_rate,  # type: ignore[union-attr]
                                          ev.next_funding_ts)  # type: ignore[union-attr]
            if due < self._next_funding:
                self._next_funding = due
            self._check_liquidation(ev.symbol, ev.mark, ev.mark)  # type: ignore[union-attr]

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
            elif typ is OrderType.MARKET:
                self._fill_market(resting, bar_open, bar.open_ts)
            elif typ is OrderType.LIMIT:
                px = resting.trig
                if (intent.side == "BUY" and low < px) or (intent.side == "SELL" and high > px):
                    self._fill(resting, intent.price or Decimal(0), Liquidity.MAKER, bar.ts)
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
        for resting in self._sorted_orders(sym):
            if resting.intent.client_id not in self.orders or resting.active_ts > ts:
                continue
            intent = resting.intent
            typ = intent.type
            if typ is OrderType.MARKET:
                self._fill_market(resting, ask if intent.side == "BUY" else bid, ts)
            elif typ is _STOP or typ is _TP:
                trig = resting.trig
                # A sell trigger watches the bid, a buy trigger the ask: where it would fill.
                px = bid if intent.side == "SELL" else ask
                if (px <= trig) if resting.falls else (px >= trig):
                    self._fill_market(resting, px, ts)
            elif typ is OrderType.LIMIT:
                px = float(intent.price or 0)
                if (intent.side == "BUY" and ask <= px) or (intent.side == "SELL" and bid >= px):
                    self._fill(resting, intent.price or Decimal(0), Liquidity.MAKER, ts)
        self._check_liquidation(sym, bid, ask)

    # -- helpers -------------------------------------------------------------------------

    def _sorted_orders(self, sym: str) -> list[_Resting]:
        """This symbol's orders: market, limit, then stops before take-profits.

        Cached until the order set changes, because a position's stop and target are checked
        on every event while it is open.
        """
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
        spec = self.spec(intent.symbol)
        pos = self.book.get(intent.symbol)
        if intent.reduce_only:
            if pos is None or (pos.side.order_side == intent.side):
                return "-2022 ReduceOnly Order is rejected: it would not reduce the position"
            return ""
        price = intent.price or Decimal(str(self.last_price.get(intent.symbol) or 0))
        if price <= 0:
            return "no market price yet: the order cannot be valued"
        problem = spec.check_order(intent.qty, price)
        if problem:
            return f"-4164 {problem}"
        lev = self.leverage.get(intent.symbol, 1)
        need = intent.qty * price / lev
        if need > self.available():
            return f"-2019 Margin is insufficient: needs {need:.2f} USDT, {self.available():.2f} available"
        return ""

    def available(self) -> Decimal:
        return self.balance - sum((p.margin for p in self.book.positions.values()), Decimal(0))

    def _fill_market(self, resting: _Resting, price: float, ts: int) -> None:
        spec = self.spec(resting.intent.symbol)
        if resting.intent.side == "BUY":
            px = spec.round_price(price * (1 + self.slippage), "up")
        else:
            px = spec.round_price(price * (1 - self.slippage), "down")
        self._fill(resting, px, Liquidity.TAKER, ts)

    def _fill(self, resting: _Resting, price: Decimal, liq: Liquidity, ts: int) -> None:
        intent = resting.intent
        self.orders.pop(intent.client_id, None)
        self._order_version += 1
        sink = self._sink
        assert sink is not None
        pos = self.book.get(intent.symbol)
        qty = intent.qty
        if intent.reduce_only:
            if pos is None or pos.side.order_side == intent.side:
                sink.on_order_update(
                    OrderUpdate(
                        intent.client_id,
                        intent.symbol,
                        OrderStatus.EXPIRED,
                        ts,
                        "reduce-only order expired: no position left to reduce",
                    )
                )
                return
            qty = min(qty, pos.qty)
        fee = price * qty * (self.maker_fee if liq is Liquidity.MAKER else self.taker_fee)
        fee = fee.quantize(_FEE_STEP)
        self._trade_seq += 1
        fill = Fill(
            intent.client_id,
            intent.symbol,
            intent.side,
            qty,
            price,
            fee,
            ts,
            liq,
            intent.role,
            seq=1,
            trade_id=f"P{self._trade_seq}",
        )
        self._apply(fill)
        sink.on_order_update(
            OrderUpdate(
                intent.client_id,
                intent.symbol,
                OrderStatus.FILLED,
                ts,
                filled_qty=qty,
                avg_price=price,
            )
        )
        sink.on_fill(fill)

    def _apply(self, fill: Fill) -> None:
        lev = self.leverage.get(fill.symbol, 1)
        effect = self.book.apply(fill, lev)
        self.balance += effect.realized_gross - fill.fee
        self.fees_paid += fill.fee
        pos = self.book.get(fill.symbol)
        if pos is not None:
            spec = self.spec(fill.symbol)
            set_isolated_margin(pos, spec)

    def _check_liquidation(self, sym: str, low: float, high: float) -> None:
        pos = self.book.get(sym)
        if pos is None or not pos.liquidation_price:
            return
        lp = pos.liquidation_price
        hit = low <= float(lp) if pos.side.sign > 0 else high >= float(lp)
        if not hit:
            return
        # Binance takes the whole isolated margin: price loss to LP plus the clearance fee.
        price_loss = (lp - pos.entry_price) * pos.qty * pos.side.sign
        fee = max(pos.margin + price_loss, Decimal(0))
        self._trade_seq += 1
        fill = Fill(
            f"liq-{self._trade_seq}",
            sym,
            "SELL" if pos.side.sign > 0 else "BUY",
            pos.qty,
            lp,
            fee,
            self._now,
            Liquidity.TAKER,
            OrderRole.LIQUIDATION,
            seq=1,
            trade_id=f"P{self._trade_seq}",
        )
        self._apply(fill)
        assert self._sink is not None
        self._sink.on_fill(fill)

    def _funding(self, ts: int) -> None:
        """Settle every funding time reached since the last event (gaps included), each
        symbol by its own schedule (engine/funding_schedule.py).

        Nothing trades inside a gap, so every time crossed is owed at the same rate and price
        by the same position: up to three times settle one by one (one journal row each, as
        Binance would), more settle as ONE payment dated at the last of them. A gap of a
        century costs one row and O(1) time, not 100,000.
        """
        schedule = self._schedule
        positions = self.book.positions
        for sym, due, n, step in schedule.crossed(ts):
            pos = positions.get(sym)
            if pos is not None:
                px = schedule.mark.get(sym) or self.last_price.get(sym)
                self._settle_times(pos, due, n, step, schedule.rate.get(sym, 0.0), px)
        due, n = schedule.grid(ts)
        if n:
            for pos in list(positions.values()):
                sym = pos.symbol
                if sym in schedule.announced or schedule.passed.get(sym, 0) >= due:
                    continue
                schedule.passed[sym] = due + (n - 1) * GRID_MS
                self._settle_times(pos, due, n, GRID_MS, None, self.last_price.get(sym))
        self._next_funding = schedule.next_time()

    def _settle_times(self, pos: Position, due: int, n: int, step: int, rate: float | None,
                      px: float | None) -> None:
        if n <= 3:
            for k in range(n):
                self._settle_funding(pos, due + k * step, rate, px)
        else:
            self._settle_funding(pos, due + (n - 1) * step, rate, px, n)

    def _settle_funding(self, pos: Position, due: int, mark_rate: float | None,
                        px: float | None, marks: int = 1) -> None:
        """``mark_rate`` None: the assumed rate (a symbol without mark events)."""
        rate = self.assumed_funding if mark_rate is None else Decimal(str(mark_rate))
        if not rate:
            return
        price = Decimal(str(px)) if px else pos.entry_price
        # Positive rate: longs pay shorts. Binance values it at the mark price.
        amount = (-pos.side.sign * pos.qty * price * rate).quantize(Decimal("0.00000001"))
        amount *= marks  # each time rounds on its own, as the one-by-one settlement would
        self.balance += amount
        self.funding_paid -= amount
        pos.funding += amount
        if self._sink is not None:
            self._sink.on_funding(pos.symbol, amount, float(rate), due)

    # -- persistence (restart after a crash continues where the journal left off) -------

    def to_state(self) -> dict[str, Any]:
        return {
            "balance": str(self.balance),
            "fees_paid": str(self.fees_paid),
            "funding_paid": str(self.funding_paid),
            "trade_seq": self._trade_seq,
            "next_funding": self._schedule.grid_next,
            "funding_times": self._schedule.to_state(),
            "leverage": self.leverage,
            "last_price": self.last_price,
            "positions": [_pos_to_dict(p) for p in self.book.positions.values()],
            "orders": [
                {**_intent_to_dict(r.intent), "active_ts": r.active_ts}
                for r in self.orders.values()
            ],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.balance = Decimal(state["balance"])
        self.fees_paid = Decimal(state.get("fees_paid", "0"))
        self.funding_paid = Decimal(state.get("funding_paid", "0"))
        self._trade_seq = int(state.get("trade_seq", 0))
        self._schedule.load_state(int(state.get("next_funding", 0)), state.get("funding_times"))
        self._next_funding = self._schedule.next_time()
        self.leverage = {k: int(v) for k, v in state.get("leverage", {}).items()}
        self.last_price = {k: float(v) for k, v in state.get("last_price", {}).items()}
        self.book.positions = {p["symbol"]: _pos_from_dict(p) for p in state.get("positions", [])}
        self.orders = {}
        self._order_version += 1
        for o in state.get("orders", []):
            intent = _intent_from_dict(o)
            self.orders[intent.client_id] = _Resting(intent, int(o["active_ts"]))


def _pos_to_dict(p: Position) -> dict[str, Any]:
    return {
        "symbol": p.symbol,
        "side": str(p.side),
        "qty": str(p.qty),
        "entry": str(p.entry_price),
        "leverage": p.leverage,
        "opened_ts": p.opened_ts,
        "margin": str(p.margin),
        "liq": str(p.liquidation_price),
        "fees": str(p.fees),
        "funding": str(p.funding),
        "peak_qty": str(p.peak_qty),
        "exit_qty": str(p.exit_qty),
        "exit_notional": str(p.exit_notional),
        "realized_gross": str(p.realized_gross),
        "strategy": p.strategy,
        "position_id": p.position_id,
    }


def _pos_from_dict(d: dict[str, Any]) -> Position:
    from tapedesk.engine.events import Side

    return Position(
        symbol=d["symbol"],
        side=Side(d["side"]),
        qty=Decimal(d["qty"]),
        entry_price=Decimal(d["entry"]),
        leverage=int(d["leverage"]),
        opened_ts=int(d["opened_ts"]),
        margin=Decimal(d["margin"]),
        liquidation_price=Decimal(d["liq"]),
        fees=Decimal(d["fees"]),
        funding=Decimal(d["funding"]),
        peak_qty=Decimal(d["peak_qty"]),
        exit_qty=Decimal(d["exit_qty"]),
        exit_notional=Decimal(d["exit_notional"]),
        realized_gross=Decimal(d["realized_gross"]),
        strategy=d.get("strategy", ""),
        position_id=d.get("position_id", ""),
    )


def _intent_to_dict(i: OrderIntent) -> dict[str, Any]:
    return {
        "client_id": i.client_id,
        "symbol": i.symbol,
        "side": i.side,
        "type": str(i.type),
        "qty": str(i.qty),
        "role": str(i.role),
        "ts": i.ts,
        "price": str(i.price) if i.price is not None else None,
        "stop_price": str(i.stop_price) if i.stop_price is not None else None,
        "reduce_only": i.reduce_only,
        "strategy": i.strategy,
    }


def _intent_from_dict(d: dict[str, Any]) -> OrderIntent:
    return OrderIntent(
        client_id=d["client_id"],
        symbol=d["symbol"],
        side=d["side"],
        type=OrderType(d["type"]),
        qty=Decimal(d["qty"]),
        role=OrderRole(d["role"]),
        ts=int(d["ts"]),
        price=Decimal(d["price"]) if d.get("price") else None,
        stop_price=Decimal(d["stop_price"]) if d.get("stop_price") else None,
        reduce_only=bool(d["reduce_only"]),
        strategy=d.get("strategy", ""),
    )
