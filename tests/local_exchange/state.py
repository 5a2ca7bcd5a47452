"""The local exchange's book-keeping: one account, one-way mode, orders, algo orders, positions.

It answers the way Binance USDT-M answers (field names, statuses, error codes and messages) for
the subset the desk uses. Prices move only when a test says so (``set_price``), so every fill
is deterministic. Everything here is synchronous; the server wraps it in HTTP and websockets.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

TAKER = Decimal("0.0005")
MAKER = Decimal("0.0002")
CONDITIONAL = {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}


class ApiError(Exception):
    """A Binance error body ``{"code": ..., "msg": ...}`` with its HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


@dataclass
class SymbolInfo:
    symbol: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    market_step: Decimal | None = None
    max_qty: Decimal = Decimal("1000")

    def exchange_info(self) -> dict[str, Any]:
        mstep = self.market_step or self.step
        return {
            "symbol": self.symbol,
            "pair": self.symbol,
            "contractType": "PERPETUAL",
            "status": "TRADING",
            "baseAsset": self.symbol.removesuffix("USDT"),
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": max(0, -self.tick.normalize().as_tuple().exponent),
            "quantityPrecision": max(0, -self.step.normalize().as_tuple().exponent),
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                           "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": str(self.tick), "maxPrice": "1000000",
                 "tickSize": str(self.tick)},
                {"filterType": "LOT_SIZE", "minQty": str(self.min_qty), "maxQty": str(self.max_qty),
                 "stepSize": str(self.step)},
                {"filterType": "MARKET_LOT_SIZE", "minQty": str(self.min_qty),
                 "maxQty": str(self.max_qty), "stepSize": str(mstep)},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": str(self.min_notional)},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500",
                 "multiplierDown": "0.9500", "multiplierDecimal": "4"},
            ],
        }


DEFAULT_SYMBOLS = {
    "BTCUSDT": SymbolInfo("BTCUSDT", Decimal("0.10"), Decimal("0.001"), Decimal("0.001"),
                          Decimal("100")),
    "ETHUSDT": SymbolInfo("ETHUSDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"),
                          Decimal("20")),
    "SOLUSDT": SymbolInfo("SOLUSDT", Decimal("0.0100"), Decimal("1"), Decimal("1"), Decimal("5")),
}


def fmt(value: Decimal) -> str:
    """Binance prints decimals as plain strings."""
    return format(value.normalize(), "f") if value else "0"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Order:
    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    price: Decimal
    reduce_only: bool
    time_in_force: str
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    stop_price: Decimal = Decimal(0)
    orig_type: str = ""
    close_position: bool = False
    time: int = field(default_factory=now_ms)
    update_time: int = field(default_factory=now_ms)

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed if self.executed else Decimal(0)

    def rest(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id, "symbol": self.symbol, "status": self.status,
            "clientOrderId": self.client_id, "price": fmt(self.price),
            "avgPrice": fmt(self.avg_price), "origQty": fmt(self.qty),
            "executedQty": fmt(self.executed), "cumQuote": fmt(self.cum_quote),
            "timeInForce": self.time_in_force, "type": self.type,
            "reduceOnly": self.reduce_only, "closePosition": self.close_position,
            "side": self.side, "positionSide": "BOTH", "stopPrice": fmt(self.stop_price),
            "workingType": "CONTRACT_PRICE", "priceProtect": False,
            "origType": self.orig_type or self.type, "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0,
            "time": self.time, "updateTime": self.update_time,
        }


@dataclass
class AlgoOrder:
    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    trigger_price: Decimal
    reduce_only: bool
    close_position: bool
    working_type: str
    status: str = "NEW"
    actual_order_id: str = ""
    avg_price: Decimal = Decimal(0)
    executed: Decimal = Decimal(0)
    trigger_time: int = 0
    create_time: int = field(default_factory=now_ms)
    update_time: int = field(default_factory=now_ms)

    def rest(self) -> dict[str, Any]:
        return {
            "algoId": self.algo_id, "clientAlgoId": self.client_algo_id,
            "algoType": "CONDITIONAL", "orderType": self.type, "symbol": self.symbol,
            "side": self.side, "positionSide": "BOTH", "timeInForce": "GTC",
            "quantity": fmt(self.qty), "algoStatus": self.status,
            "actualOrderId": self.actual_order_id, "actualPrice": fmt(self.avg_price),
            "triggerPrice": fmt(self.trigger_price), "price": "0",
            "icebergQuantity": None, "tpTriggerPrice": "0.000", "tpPrice": "0.000",
            "slTriggerPrice": "0.000", "slPrice": "0.000", "tpOrderType": "",
            "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": self.working_type,
            "priceMatch": "NONE", "closePosition": self.close_position, "priceProtect": False,
            "reduceOnly": self.reduce_only, "createTime": self.create_time,
            "updateTime": self.update_time, "triggerTime": self.trigger_time, "goodTillDate": 0,
        }

    def event(self, ts: int) -> dict[str, Any]:
        return {
            "e": "ALGO_UPDATE", "T": ts, "E": ts,
            "o": {
                "caid": self.client_algo_id, "aid": self.algo_id, "at": "CONDITIONAL",
                "o": self.type, "s": self.symbol, "S": self.side, "ps": "BOTH", "f": "GTC",
                "q": fmt(self.qty), "X": self.status, "ai": self.actual_order_id,
                "ap": fmt(self.avg_price), "aq": fmt(self.executed),
                "act": "MARKET" if self.actual_order_id else "0",
                "tp": fmt(self.trigger_price), "p": "0", "V": "EXPIRE_MAKER",
                "wt": self.working_type, "pm": "NONE", "cp": self.close_position,
                "pP": False, "R": self.reduce_only, "tt": self.trigger_time, "gtd": 0,
            },
        }


@dataclass
class PositionState:
    symbol: str
    amount: Decimal = Decimal(0)  # signed, one-way mode
    entry: Decimal = Decimal(0)
    isolated_wallet: Decimal = Decimal(0)
    leverage: int = 20
    margin_type: str = "CROSSED"


class Account:
    """The exchange's view of one account. Methods raise ``ApiError`` as Binance would."""

    def __init__(self, symbols: dict[str, SymbolInfo], balance: Decimal,
                 prices: dict[str, Decimal]) -> None:
        self.symbols = symbols
        self.wallet = balance
        self.prices = dict(prices)
        self.positions = {s: PositionState(s) for s in symbols}
        self.orders: dict[int, Order] = {}
        self.algos: dict[int, AlgoOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self._ids = itertools.count(8_389_765_000)
        self._algo_ids = itertools.count(2_000_000)
        self._trade_ids = itertools.count(500_000)
        # Fractions for the next market orders' fills, e.g. [Decimal("0.4")] fills 40 % now.
        self.partial_fills: list[Decimal] = []
        self.events: list[dict[str, Any]] = []  # user-data events waiting to be pushed
        self.dual_side = False
        self.multi_assets = False  # Multi-Assets mode: Binance then refuses isolated margin

    # -- helpers ------------------------------------------------------------------------
    def info(self, symbol: str) -> SymbolInfo:
        info = self.symbols.get(symbol)
        if info is None:
            raise ApiError(-1121, "Invalid symbol.")
        return info

    def bid_ask(self, symbol: str) -> tuple[Decimal, Decimal]:
        price = self.prices[symbol]
        return price, price + self.symbols[symbol].tick

    def _emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def available(self) -> Decimal:
        used = sum((p.isolated_wallet for p in self.positions.values()), Decimal(0))
        for o in self.orders.values():
            if o.status in ("NEW", "PARTIALLY_FILLED") and not o.reduce_only:
                lev = self.positions[o.symbol].leverage
                used += (o.qty - o.executed) * o.price / lev
        return self.wallet - used

    def unrealized(self, pos: PositionState) -> Decimal:
        if not pos.amount:
            return Decimal(0)
        return (self.prices[pos.symbol] - pos.entry) * pos.amount

    # -- settings -----------------------------------------------------------------------
    def set_margin_type(self, symbol: str, margin_type: str) -> dict[str, Any]:
        pos = self.positions[self.info(symbol).symbol]
        if margin_type not in ("ISOLATED", "CROSSED"):
            raise ApiError(-1116, "Invalid marginType.")
        if margin_type == "ISOLATED" and self.multi_assets:
            raise ApiError(-4168, "Unable to adjust to isolated-margin mode under the "
                           "Multi-Assets mode.")
        if pos.margin_type == margin_type:
            raise ApiError(-4046, "No need to change margin type.")
        if pos.amount or any(o.symbol == symbol for o in self.open_orders()):
            raise ApiError(-4048, "Margin type cannot be changed if there exists position.")
        pos.margin_type = margin_type
        return {"code": 200, "msg": "success"}

    def set_leverage(self, symbol: str, leverage: int) -> dict[str, Any]:
        pos = self.positions[self.info(symbol).symbol]
        if not 1 <= leverage <= 125:
            raise ApiError(-4028, f"Leverage {leverage} is not valid")
        pos.leverage = leverage
        return {"leverage": leverage, "maxNotionalValue": "480000000", "symbol": symbol}

    # -- orders -------------------------------------------------------------------------
    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")
                and (symbol is None or o.symbol == symbol)]

    def open_algos(self, symbol: str | None = None) -> list[AlgoOrder]:
        return [a for a in self.algos.values()
                if a.status in ("NEW", "TRIGGERING") and (symbol is None or a.symbol == symbol)]

    def find_order(self, symbol: str, order_id: Any = None, client_id: str | None = None) -> Order:
        for o in self.orders.values():
            if o.symbol == symbol and (
                (order_id is not None and str(o.order_id) == str(order_id))
                or (client_id is not None and o.client_id == client_id)
            ):
                return o
        raise ApiError(-2013, "Order does not exist.")

    def find_algo(self, algo_id: Any = None, client_algo_id: str | None = None) -> AlgoOrder:
        for a in self.algos.values():
            if (algo_id is not None and str(a.algo_id) == str(algo_id)) or (
                client_algo_id is not None and a.client_algo_id == client_algo_id
            ):
                return a
        raise ApiError(-2013, "Order does not exist.")

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

    def _reduce_check(self, symbol: str, side: str, qty: Decimal) -> Decimal:
        pos = self.positions[symbol]
        sign = 1 if side == "BUY" else -1
        if not pos.amount or (pos.amount > 0) == (sign > 0):
            raise ApiError(-2022, "ReduceOnly Order is rejected.")
        return min(qty, abs(pos.amount))

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
        client_id = p.get("newClientOrderId") or f"local-{next(self._ids)}"
        if any(o.client_id == client_id for o in self.open_orders()):
            raise ApiError(-4015, "Client order id is not valid.")
        qty = Decimal(p.get("quantity", "0"))
        price = Decimal(p["price"]) if "price" in p else None
        reduce_only = p.get("reduceOnly", "false").lower() == "true"
        bid, ask = self.bid_ask(symbol)
        ref = ask if side == "BUY" else bid
        self._check_filters(info, qty, price, otype == "MARKET", reduce_only, ref)
        if reduce_only:
            qty = self._reduce_check(symbol, side, qty)
        else:
            lev = self.positions[symbol].leverage
            need = qty * (price or ref) / lev + qty * (price or ref) * TAKER
            if need > self.available():
                raise ApiError(-2019, "Margin is insufficient.")
        order = Order(
            order_id=next(self._ids), client_id=client_id, symbol=symbol, side=side,
            type=otype, qty=qty, price=price or Decimal(0), reduce_only=reduce_only,
            time_in_force=p.get("timeInForce", "GTC"),
            orig_type=p.get("_orig_type", otype),
        )
        self.orders[order.order_id] = order
        self._order_event(order, "NEW")
        if not execute:
            return order
        if otype == "MARKET":
            self._fill_market(order)
        else:
            self._match_limit(order)
        return order

    def _fill_market(self, order: Order) -> None:
        remaining = order.qty - order.executed
        if self.partial_fills:
            frac = self.partial_fills.pop(0)
            step = self.symbols[order.symbol].market_step or self.symbols[order.symbol].step
            part = (remaining * frac / step).to_integral_value(rounding=ROUND_DOWN) * step
            if 0 < part < remaining:
                self._execute(order, part, maker=False)
                return  # the rest fills on the next price update (see on_price)
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
        fee = (qty * fill_price * (MAKER if maker else TAKER)).quantize(Decimal("0.00000001"))
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
            "positionSide": "BOTH", "buyer": order.side == "BUY", "maker": maker,
        })
        self._order_event(order, "TRADE", last_qty=qty, last_price=fill_price, fee=fee,
                          trade_id=trade_id, maker=maker, realized=realized)
        self._account_event(order.symbol, "ORDER", realized - fee)
        if pos.amount == 0:
            self._expire_close_position_algos(order.symbol)

    def _expire_close_position_algos(self, symbol: str) -> None:
        """Binance cancels closePosition conditionals when their position is gone."""
        for algo in self.open_algos(symbol):
            if algo.close_position:
                algo.status = "EXPIRED"
                algo.update_time = now_ms()
                self._emit(algo.event(algo.update_time))

    def cancel_order(self, symbol: str, order_id: Any, client_id: str | None) -> Order:
        try:
            order = self.find_order(symbol, order_id, client_id)
        except ApiError:
            raise ApiError(-2011, "Unknown order sent.") from None
        if order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise ApiError(-2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.update_time = now_ms()
        self._order_event(order, "CANCELED")
        return order

    def cancel_all(self, symbol: str) -> None:
        for order in self.open_orders(symbol):
            order.status = "CANCELED"
            self._order_event(order, "CANCELED")

    # -- algo orders --------------------------------------------------------------------
    def new_algo(self, p: dict[str, str]) -> AlgoOrder:
        symbol = p.get("symbol", "")
        info = self.info(symbol)
        if p.get("algoType") != "CONDITIONAL":
            raise ApiError(-1116, "Invalid algoType.")
        otype = p.get("type", "")
        if otype not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise ApiError(-1116, "Invalid orderType.")
        side = p.get("side", "")
        trigger = Decimal(p.get("triggerPrice", "0"))
        if trigger <= 0 or trigger % info.tick != 0:
            raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
        close_position = p.get("closePosition", "false").lower() == "true"
        reduce_only = p.get("reduceOnly", "false").lower() == "true"
        qty = Decimal(p.get("quantity", "0"))
        if not close_position:
            self._check_filters(info, qty, None, True, reduce_only, trigger)
        client_id = p.get("clientAlgoId") or f"algo-{next(self._algo_ids)}"
        if any(a.client_algo_id == client_id for a in self.open_algos()):
            raise ApiError(-4015, "Client order id is not valid.")
        algo = AlgoOrder(
            algo_id=next(self._algo_ids), client_algo_id=client_id, symbol=symbol, side=side,
            type=otype, qty=qty, trigger_price=trigger, reduce_only=reduce_only,
            close_position=close_position, working_type=p.get("workingType", "CONTRACT_PRICE"),
        )
        if self._triggers(algo, self.prices[symbol]):
            raise ApiError(-2021, "Order would immediately trigger.")
        self.algos[algo.algo_id] = algo
        self._emit(algo.event(algo.create_time))
        return algo

    @staticmethod
    def _triggers(algo: AlgoOrder, price: Decimal) -> bool:
        up = (algo.type == "STOP_MARKET") == (algo.side == "BUY")
        return price >= algo.trigger_price if up else price <= algo.trigger_price

    def cancel_algo(self, algo_id: Any, client_algo_id: str | None) -> AlgoOrder:
        algo = self.find_algo(algo_id, client_algo_id)
        if algo.status not in ("NEW",):
            raise ApiError(-2011, "Unknown order sent.")
        algo.status = "CANCELED"
        algo.update_time = now_ms()
        self._emit(algo.event(algo.update_time))
        return algo

    def cancel_all_algos(self, symbol: str) -> None:
        for algo in self.open_algos(symbol):
            algo.status = "CANCELED"
            self._emit(algo.event(now_ms()))

    # -- prices -------------------------------------------------------------------------
    def on_price(self, symbol: str, price: Decimal) -> None:
        """A new last price: finish partial market orders, trigger algos, match limits."""
        self.prices[symbol] = price
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
            if self._triggers(algo, price):
                self._trigger(algo)
        for order in list(self.open_orders(symbol)):
            if order.type == "LIMIT":
                crosses = (order.side == "BUY" and price < order.price) or (
                    order.side == "SELL" and price > order.price)
                if crosses:
                    self._execute(order, order.qty - order.executed, maker=True,
                                  price=order.price)

    def _trigger(self, algo: AlgoOrder) -> None:
        ts = now_ms()
        algo.status = "TRIGGERING"
        algo.trigger_time = ts
        self._emit(algo.event(ts))
        pos = self.positions[algo.symbol]
        qty = abs(pos.amount) if algo.close_position else algo.qty
        params = {"symbol": algo.symbol, "side": algo.side, "type": "MARKET",
                  "quantity": fmt(qty), "reduceOnly": "true" if (
                      algo.reduce_only or algo.close_position) else "false",
                  "newClientOrderId": algo.client_algo_id, "_orig_type": algo.type}
        try:
            order = self.new_order(params, execute=False)
        except ApiError as exc:
            algo.status = "REJECTED"
            event = algo.event(ts)
            event["o"]["rm"] = exc.msg
            self._emit(event)
            return
        algo.actual_order_id = str(order.order_id)
        algo.status = "TRIGGERED"
        self._emit(algo.event(ts))
        self._fill_market(order)
        if order.status == "FILLED" or order.status == "EXPIRED":
            algo.status = "FINISHED"
            algo.avg_price = order.avg_price
            algo.executed = order.executed
            algo.update_time = now_ms()
            self._emit(algo.event(algo.update_time))

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
                "ot": order.orig_type or order.type, "ps": "BOTH",
                "cp": order.close_position, "rp": fmt(realized), "pP": False, "si": 0,
                "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0,
            },
        })

    def _account_event(self, symbol: str, reason: str, change: Decimal) -> None:
        pos = self.positions[symbol]
        ts = now_ms()
        self._emit({
            "e": "ACCOUNT_UPDATE", "E": ts, "T": ts,
            "a": {
                "m": reason,
                "B": [{"a": "USDT", "wb": fmt(self.wallet), "cw": fmt(self.wallet),
                       "bc": fmt(change)}],
                "P": [{"s": symbol, "pa": fmt(pos.amount), "ep": fmt(pos.entry),
                       "bep": fmt(pos.entry), "cr": "0", "up": fmt(self.unrealized(pos)),
                       "mt": pos.margin_type.lower().replace("crossed", "cross"),
                       "iw": fmt(pos.isolated_wallet), "ps": "BOTH", "ma": "USDT"}],
            },
        })

    # -- read-outs ------------------------------------------------------------------------
    def liquidation_price(self, pos: PositionState) -> Decimal:
        if not pos.amount:
            return Decimal(0)
        side = 1 if pos.amount > 0 else -1
        q = abs(pos.amount)
        mmr = Decimal("0.004")
        return max(Decimal(0), (pos.isolated_wallet - side * q * pos.entry)
                   / (q * mmr - side * q)).quantize(self.symbols[pos.symbol].tick)

    def position_risk(self, symbol: str | None = None) -> list[dict[str, Any]]:
        out = []
        for pos in self.positions.values():
            if symbol and pos.symbol != symbol:
                continue
            if not pos.amount and not symbol:
                continue  # v3 lists only symbols with a position or open orders
            mark = self.prices[pos.symbol]
            out.append({
                "symbol": pos.symbol, "positionSide": "BOTH", "positionAmt": fmt(pos.amount),
                "entryPrice": fmt(pos.entry), "breakEvenPrice": fmt(pos.entry),
                "markPrice": fmt(mark), "unRealizedProfit": fmt(self.unrealized(pos)),
                "liquidationPrice": fmt(self.liquidation_price(pos)),
                "isolatedMargin": fmt(pos.isolated_wallet + self.unrealized(pos)),
                "notional": fmt(pos.amount * mark), "marginAsset": "USDT",
                "isolatedWallet": fmt(pos.isolated_wallet),
                "initialMargin": fmt(abs(pos.amount) * mark / pos.leverage),
                "maintMargin": fmt(abs(pos.amount) * mark * Decimal("0.004")),
                "positionInitialMargin": fmt(abs(pos.amount) * mark / pos.leverage),
                "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0",
                "askNotional": "0", "updateTime": now_ms(),
            })
        return out

    def account(self) -> dict[str, Any]:
        upnl = sum((self.unrealized(p) for p in self.positions.values()), Decimal(0))
        return {
            "totalInitialMargin": fmt(self.wallet - self.available()),
            "totalMaintMargin": "0", "totalWalletBalance": fmt(self.wallet),
            "totalUnrealizedProfit": fmt(upnl), "totalMarginBalance": fmt(self.wallet + upnl),
            "availableBalance": fmt(self.available()), "maxWithdrawAmount": fmt(self.available()),
            "canTrade": True, "canDeposit": True, "canWithdraw": True,
            "multiAssetsMargin": self.multi_assets, "feeTier": 0,
            "assets": [{"asset": "USDT", "walletBalance": fmt(self.wallet),
                        "unrealizedProfit": fmt(upnl), "marginBalance": fmt(self.wallet + upnl),
                        "availableBalance": fmt(self.available())}],
            "positions": [
                {"symbol": p.symbol, "positionSide": "BOTH", "positionAmt": fmt(p.amount),
                 "unrealizedProfit": fmt(self.unrealized(p)),
                 "isolatedMargin": fmt(p.isolated_wallet), "notional": "0",
                 "isolatedWallet": fmt(p.isolated_wallet), "initialMargin": "0",
                 "maintMargin": "0", "updateTime": now_ms(), "leverage": str(p.leverage),
                 "isolated": p.margin_type == "ISOLATED", "entryPrice": fmt(p.entry)}
                for p in self.positions.values() if p.amount
            ],
        }

    def balance(self) -> list[dict[str, Any]]:
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": fmt(self.wallet),
                 "crossWalletBalance": fmt(self.wallet), "crossUnPnl": "0",
                 "availableBalance": fmt(self.available()),
                 "maxWithdrawAmount": fmt(self.available()), "marginAvailable": True,
                 "updateTime": now_ms()}]
