"""The local exchange's order book for one account: orders, algo (conditional) orders, fills.

It answers the way Binance USDT-M answers (field names, statuses, error codes and messages) for
the subset the desk uses. Prices move only when a test says so (``on_price``), so every fill is
deterministic. Everything here is synchronous; the server wraps it in HTTP and websockets.
The real-exchange habits a test can switch on are in ``behaviour.Behaviour``.
"""

from __future__ import annotations

import itertools
import time
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tests.local_exchange.account import AccountBook
from tests.local_exchange.algo import AlgoBook
from tests.local_exchange.behaviour import Behaviour
from tests.local_exchange.model import (
    DEFAULT_SYMBOLS,
    AlgoOrder,
    ApiError,
    Order,
    SymbolInfo,
    fmt,
    now_ms,
)

__all__ = ["DEFAULT_SYMBOLS", "Account", "ApiError", "Behaviour", "SymbolInfo", "fmt", "now_ms"]

CONDITIONAL = {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}


class Account(AlgoBook, AccountBook):
    """Orders and algo orders on top of the account's wallet and positions."""

    def __init__(self, symbols: dict[str, SymbolInfo], balance: Decimal,
                 prices: dict[str, Decimal], behaviour: Behaviour | None = None,
                 **rates: Decimal) -> None:
        super().__init__(symbols, balance, prices, behaviour, **rates)
        self.orders: dict[int, Order] = {}
        self.algos: dict[int, AlgoOrder] = {}
        self._ids = itertools.count(8_389_765_000)
        self._algo_ids = itertools.count(2_000_000)
        self._trade_ids = itertools.count(500_000)
        # Fractions for the next market orders' fills, e.g. [Decimal("0.4")] fills 40 % now
        # and the rest on the next price update.
        self.partial_fills: list[Decimal] = []
        self._hold = 0.0  # events emitted now are held until this time.monotonic()
        self.moved: dict[str, Decimal] = {}  # prices moved by price_after_fill, to publish

    def _emit(self, event: dict[str, Any], release_at: float = 0.0) -> None:
        super()._emit(event, release_at or self._hold)

    def check_protection(self) -> None:
        self.protection.check(self.positions, list(self.algos.values()))

    def available(self) -> Decimal:
        used = Decimal(0)
        for o in self.open_orders():
            if not o.reduce_only:
                used += (o.qty - o.executed) * o.price / self.positions[o.symbol].leverage
        return super().available() - used

    def _has_open_orders(self, symbol: str) -> bool:
        return bool(self.open_orders(symbol) or self.open_algos(symbol))

    # -- look-ups -----------------------------------------------------------------------
    def open_orders(self, symbol: str | None = None, visible: bool = False) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open
                and (symbol is None or o.symbol == symbol) and (not visible or o.visible())]

    def find_order(self, symbol: str, order_id: Any = None, client_id: str | None = None,
                   visible: bool = False) -> Order:
        """Query Order: the newest order with that client id (ids are unique among open
        orders only, so a finished one can share it with a later one)."""
        for o in sorted(self.orders.values(), key=lambda o: -o.order_id):
            if o.symbol == symbol and (not visible or o.visible()) and (
                (order_id is not None and str(o.order_id) == str(order_id))
                or (client_id is not None and o.client_id == client_id)
            ):
                return o
        raise ApiError(-2013, "Order does not exist.")

    def all_orders(self, p: dict[str, str]) -> list[dict[str, Any]]:
        symbol = p.get("symbol", "")
        self.info(symbol)
        rows = [o for o in self.orders.values() if o.symbol == symbol and o.visible()]
        if p.get("orderId"):
            rows = [o for o in rows if o.order_id >= int(p["orderId"])]
        if p.get("startTime"):
            rows = [o for o in rows if o.time >= int(p["startTime"])]
        if p.get("endTime"):
            rows = [o for o in rows if o.time <= int(p["endTime"])]
        return [o.rest() for o in rows][: min(int(p.get("limit", "500")), 1000)]

    # -- checks -------------------------------------------------------------------------
    def _check_filters(self, info: SymbolInfo, qty: Decimal, price: Decimal | None,
                       market: bool, reduce_only: bool, ref_price: Decimal) -> None:
        step = (info.market_step or info.step) if market else info.step
        if qty <= 0:
            raise ApiError(-4003, "Quantity less than or equal to zero.")
        if qty % step != 0:
            raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
        if price is not None and price % info.tick != 0:
            raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
        if qty < info.min_qty:
            raise ApiError(-4004, "Quantity less than min quantity.")
        if not reduce_only and qty * (price or ref_price) < info.min_notional:
            raise ApiError(
                -4164,
                f"Order's notional must be no smaller than {fmt(info.min_notional)} "
                "(unless you choose reduce only).",
            )

    def _check_position_side(self, p: dict[str, str]) -> str:
        side = p.get("positionSide", "BOTH")
        if self.dual_side != (side in ("LONG", "SHORT")):
            raise ApiError(-4061, "Order's position side does not match user's setting.")
        return side

    def _reduce_check(self, symbol: str, side: str, qty: Decimal) -> Decimal:
        """-2022 when a reduce-only order would not reduce: no position, or same side."""
        pos = self.positions[symbol]
        sign = 1 if side == "BUY" else -1
        if not pos.amount or (pos.amount > 0) == (sign > 0):
            raise ApiError(-2022, "ReduceOnly Order is rejected.")
        return min(qty, abs(pos.amount))

    # -- orders -------------------------------------------------------------------------
    def new_order(self, p: dict[str, str], execute: bool = True) -> Order:
        symbol = p.get("symbol", "")
        info = self.info(symbol)
        otype = p.get("type", "")
        if otype in CONDITIONAL:
            raise ApiError(
                -4120,
                "Order type not supported for this endpoint. Please use the Algo Order API "
                "endpoints instead.",
            )
        if otype not in ("MARKET", "LIMIT"):
            raise ApiError(-1116, "Invalid orderType.")
        side = p.get("side", "")
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        position_side = self._check_position_side(p)
        client_id = p.get("newClientOrderId") or f"local-{next(self._ids)}"
        if any(o.client_id == client_id for o in self.open_orders()):
            raise ApiError(-4015, "Client order id is not valid.")
        qty = Decimal(p.get("quantity", "0"))
        price = Decimal(p["price"]) if "price" in p else None
        reduce_only = p.get("reduceOnly", "false").lower() == "true"
        bid, ask = self.bid_ask(symbol)
        ref = ask if side == "BUY" else bid
        self._check_filters(info, qty, price, otype == "MARKET", reduce_only, ref)
        pos = self.positions[symbol]
        if reduce_only:
            qty = self._reduce_check(symbol, side, qty)
        else:
            need = qty * (price or ref) / pos.leverage + qty * (price or ref) * self.taker_rate
            if need > self.available():
                raise ApiError(-2019, "Margin is insufficient.")
            after = abs(pos.amount + (qty if side == "BUY" else -qty)) * (price or ref)
            if after > info.max_notional(pos.leverage):
                raise ApiError(-2027, "Exceeded the maximum allowable position at current "
                               "leverage.")
        hide = self.behaviour.take_hide() if execute else 0.0
        order = Order(
            order_id=next(self._ids), client_id=client_id, symbol=symbol, side=side,
            type=otype, qty=qty, price=price or Decimal(0), reduce_only=reduce_only,
            time_in_force=p.get("timeInForce", "GTC"),
            orig_type=p.get("_orig_type", otype), position_side=position_side,
            visible_at=time.monotonic() + hide if hide else 0.0,
        )
        self.orders[order.order_id] = order
        self._hold = order.visible_at if hide and self.behaviour.hide_stream else 0.0
        try:
            self._order_event(order, "NEW")
            if execute:
                if otype == "MARKET":
                    self._fill_market(order)
                else:
                    self._match_limit(order)
        finally:
            self._hold = 0.0
        return order

    def _fill_market(self, order: Order) -> None:
        remaining = order.qty - order.executed
        step = self.symbols[order.symbol].market_step or self.symbols[order.symbol].step
        if self.partial_fills:
            frac = self.partial_fills.pop(0)
            part = (remaining * frac / step).to_integral_value(rounding=ROUND_DOWN) * step
            if 0 < part < remaining:
                self._execute(order, part, maker=False)
                return  # the rest fills on the next price update (see on_price)
        expire = self.behaviour.expire_after
        if expire is not None and not order.reduce_only:
            self.behaviour.expire_after = None
            part = (remaining * expire / step).to_integral_value(rounding=ROUND_DOWN) * step
            if part > 0:
                self._execute(order, part, maker=False)
            order.status = "EXPIRED"
            order.update_time = now_ms()
            self._order_event(order, "EXPIRED")
            return
        split = self.behaviour.take_split(order.reduce_only)
        if len(split) > 1:
            tick = self.symbols[order.symbol].tick * self.behaviour.split_tick_gap
            worse = tick if order.side == "BUY" else -tick
            bid, ask = self.bid_ask(order.symbol)
            base = ask if order.side == "BUY" else bid
            for i, frac in enumerate(split):
                left = order.qty - order.executed
                part = (order.qty * frac / step).to_integral_value(rounding=ROUND_DOWN) * step
                part = left if i == len(split) - 1 else min(part, left)
                if part > 0:
                    self._execute(order, part, maker=False, price=base + i * worse)
                if not order.is_open:
                    return
            return
        self._execute(order, remaining, maker=False)

    def _match_limit(self, order: Order) -> None:
        bid, ask = self.bid_ask(order.symbol)
        crosses = (order.side == "BUY" and order.price >= ask) or (
            order.side == "SELL" and order.price <= bid)
        if crosses:
            self._execute(order, order.qty - order.executed, maker=False, price=order.price)

    def _execute(self, order: Order, qty: Decimal, maker: bool,
                 price: Decimal | None = None) -> None:
        bid, ask = self.bid_ask(order.symbol)
        fill_price = price if price is not None else (ask if order.side == "BUY" else bid)
        pos = self.positions[order.symbol]
        if order.reduce_only:
            try:
                qty = min(qty, self._reduce_check(order.symbol, order.side, qty))
            except ApiError:
                order.status = "EXPIRED"
                self._order_event(order, "EXPIRED")
                return
        sign = 1 if order.side == "BUY" else -1
        rate = self.maker_rate if maker else self.taker_rate
        fee = (qty * fill_price * rate).quantize(Decimal("0.00000001"))
        realized = Decimal(0)
        amt = pos.amount
        if amt == 0 or (amt > 0) == (sign > 0):
            new_amt = amt + sign * qty
            pos.entry = (abs(amt) * pos.entry + qty * fill_price) / abs(new_amt)
            pos.isolated_wallet += qty * fill_price / pos.leverage
            pos.amount = new_amt
        else:
            closing = min(qty, abs(amt))
            realized = (fill_price - pos.entry) * closing * (1 if amt > 0 else -1)
            released = pos.isolated_wallet * closing / abs(amt)
            pos.isolated_wallet -= released
            pos.amount = amt + sign * closing
            if pos.amount == 0:
                pos.entry = Decimal(0)
                pos.isolated_wallet = Decimal(0)
            opening = qty - closing
            if opening:
                pos.amount = sign * opening
                pos.entry = fill_price
                pos.isolated_wallet = opening * fill_price / pos.leverage
        self.wallet += realized - fee
        if pos.margin_type == "ISOLATED" and pos.amount:
            pos.isolated_wallet = max(pos.isolated_wallet, Decimal(0))
        order.executed += qty
        order.cum_quote += qty * fill_price
        order.status = "FILLED" if order.executed >= order.qty else "PARTIALLY_FILLED"
        order.update_time = now_ms()
        trade_id = next(self._trade_ids)
        self.trades.append({
            "symbol": order.symbol, "id": trade_id, "orderId": order.order_id,
            "side": order.side, "price": fmt(fill_price), "qty": fmt(qty),
            "realizedPnl": fmt(realized), "quoteQty": fmt(qty * fill_price),
            "commission": fmt(fee), "commissionAsset": "USDT", "time": order.update_time,
            "positionSide": order.position_side, "buyer": order.side == "BUY", "maker": maker,
        })
        self._record_income(order.symbol, "REALIZED_PNL", realized, trade_id, order.update_time)
        self._record_income(order.symbol, "COMMISSION", -fee, trade_id, order.update_time)
        self._order_event(order, "TRADE", last_qty=qty, last_price=fill_price, fee=fee,
                          trade_id=trade_id, maker=maker, realized=realized)
        self._account_event(order.symbol, "ORDER", realized - fee)
        if pos.amount == 0:
            self._expire_close_position_algos(order.symbol)
        jump = self.behaviour.price_after_fill
        if jump is not None and order.status == "FILLED" and not order.reduce_only:
            self.behaviour.price_after_fill = None
            self.moved[order.symbol] = Decimal(jump)

    def _expire_close_position_algos(self, symbol: str) -> None:
        """Binance cancels closePosition conditionals when their position is gone."""
        for algo in self.open_algos(symbol):
            if algo.close_position:
                algo.status = "EXPIRED"
                algo.update_time = now_ms()
                self._emit(algo.event(algo.update_time))

    def cancel_order(self, symbol: str, order_id: Any, client_id: str | None) -> Order:
        try:
            order = self.find_order(symbol, order_id, client_id, visible=True)
        except ApiError:
            raise ApiError(-2011, "Unknown order sent.") from None
        if not order.is_open:
            raise ApiError(-2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.update_time = now_ms()
        self._order_event(order, "CANCELED")
        return order

    def cancel_all(self, symbol: str) -> None:
        for order in self.open_orders(symbol):
            order.status = "CANCELED"
            self._order_event(order, "CANCELED")

    # -- prices -------------------------------------------------------------------------
    def on_price(self, symbol: str, price: Decimal, mark: Decimal | None = None) -> None:
        """A new last (and mark) price: finish partial market orders, trigger algos, match
        limits."""
        self.prices[symbol] = price
        self.marks[symbol] = price if mark is None else mark
        for order in list(self.open_orders(symbol)):
            if order.type == "MARKET":
                self._execute(order, order.qty - order.executed, maker=False)
        for algo in self.algos.values():
            if algo.status == "TRIGGERED" and algo.symbol == symbol:
                order = next((o for o in self.orders.values()
                              if str(o.order_id) == algo.actual_order_id), None)
                if order is not None and order.status in ("FILLED", "EXPIRED"):
                    algo.status = "FINISHED"
                    algo.avg_price, algo.executed = order.avg_price, order.executed
                    self._emit(algo.event(now_ms()))
        for algo in list(self.open_algos(symbol)):
            if algo.is_open and self._triggers(algo, self.working_price(symbol,
                                                                        algo.working_type)):
                self._trigger(algo)
        for order in list(self.open_orders(symbol)):
            if order.type == "LIMIT":
                crosses = (order.side == "BUY" and price < order.price) or (
                    order.side == "SELL" and price > order.price)
                if crosses:
                    self._execute(order, order.qty - order.executed, maker=True,
                                  price=order.price)

    # -- events -------------------------------------------------------------------------
    def _order_event(self, order: Order, exec_type: str, last_qty: Decimal = Decimal(0),
                     last_price: Decimal = Decimal(0), fee: Decimal = Decimal(0),
                     trade_id: int = 0, maker: bool = False,
                     realized: Decimal = Decimal(0)) -> None:
        ts = now_ms()
        self._emit({
            "e": "ORDER_TRADE_UPDATE", "E": ts, "T": ts,
            "o": {
                "s": order.symbol, "c": order.client_id, "S": order.side, "o": order.type,
                "f": order.time_in_force, "q": fmt(order.qty), "p": fmt(order.price),
                "ap": fmt(order.avg_price), "sp": fmt(order.stop_price), "x": exec_type,
                "X": order.status, "i": order.order_id, "l": fmt(last_qty),
                "z": fmt(order.executed), "L": fmt(last_price), "N": "USDT", "n": fmt(fee),
                "T": ts, "t": trade_id, "b": "0", "a": "0", "m": maker,
                "R": order.reduce_only, "wt": "CONTRACT_PRICE",
                "ot": order.orig_type or order.type,
                "ps": order.position_side,
                "cp": order.close_position, "rp": fmt(realized), "pP": False, "si": 0,
                "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0,
            },
        })
