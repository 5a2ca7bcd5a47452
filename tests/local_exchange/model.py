"""What the local exchange keeps: symbols and their filters, leverage brackets, orders, algo
orders and positions, each printing itself the way Binance USDT-M prints it.

Shapes follow Binance's USDT-M documentation (Exchange Information, Query Order, Query Algo
Order, Notional and Leverage Brackets, Event: Order Update / Algo Order Update): decimals are
strings, ids are integers except ``actualOrderId`` (a string).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class ApiError(Exception):
    """A Binance error body ``{"code": ..., "msg": ...}`` with its HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


def fmt(value: Decimal) -> str:
    """Binance prints decimals as plain strings."""
    return format(value.normalize(), "f") if value else "0"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Bracket:
    """One notional tier: Binance's ``cum`` makes maintenance margin one multiplication:
    ``maint = notional × mmr − cum`` (cum_n = cum_{n−1} + floor_n × (mmr_n − mmr_{n−1}))."""

    bracket: int
    floor: Decimal
    cap: Decimal
    max_leverage: int
    mmr: Decimal
    cum: Decimal

    def rest(self) -> dict[str, Any]:
        # Binance sends these as JSON numbers, not strings (documented example).
        return {"bracket": self.bracket, "initialLeverage": self.max_leverage,
                "notionalCap": int(self.cap), "notionalFloor": int(self.floor),
                "maintMarginRatio": float(self.mmr), "cum": float(self.cum)}


def make_brackets(tiers: list[tuple[int, int, int, str]]) -> list[Bracket]:
    """``tiers`` = (floor, cap, max leverage, maintenance margin ratio); cum is derived."""
    out: list[Bracket] = []
    cum, prev_mmr = Decimal(0), Decimal(0)
    for i, (floor, cap, lev, mmr) in enumerate(tiers, start=1):
        rate = Decimal(mmr)
        cum += Decimal(floor) * (rate - prev_mmr)
        out.append(Bracket(i, Decimal(floor), Decimal(cap), lev, rate, cum))
        prev_mmr = rate
    return out


# Shaped like BTCUSDT's published tiers (they change over time; the shape is what matters).
BTC_TIERS = [(0, 50_000, 125, "0.004"), (50_000, 600_000, 100, "0.005"),
             (600_000, 3_000_000, 75, "0.0065"), (3_000_000, 12_000_000, 50, "0.01"),
             (12_000_000, 70_000_000, 25, "0.02"), (70_000_000, 100_000_000, 20, "0.025"),
             (100_000_000, 230_000_000, 10, "0.05")]
ALT_TIERS = [(0, 10_000, 75, "0.0065"), (10_000, 100_000, 50, "0.01"),
             (100_000, 500_000, 25, "0.02"), (500_000, 1_000_000, 10, "0.05"),
             (1_000_000, 2_000_000, 5, "0.1")]


@dataclass
class SymbolInfo:
    symbol: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    market_step: Decimal | None = None
    max_qty: Decimal = Decimal("1000")
    brackets: list[Bracket] = field(default_factory=lambda: make_brackets(ALT_TIERS))

    def bracket_for(self, notional: Decimal) -> Bracket:
        for b in self.brackets:
            if notional < b.cap:
                return b
        return self.brackets[-1]

    def max_notional(self, leverage: int) -> Decimal:
        """The largest position notional this leverage allows (Binance's maxNotionalValue)."""
        allowed = [b.cap for b in self.brackets if b.max_leverage >= leverage]
        return max(allowed) if allowed else Decimal(0)

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
                          Decimal("100"), brackets=make_brackets(BTC_TIERS)),
    "ETHUSDT": SymbolInfo("ETHUSDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"),
                          Decimal("20")),
    "SOLUSDT": SymbolInfo("SOLUSDT", Decimal("0.0100"), Decimal("1"), Decimal("1"), Decimal("5")),
}


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
    position_side: str = "BOTH"
    time: int = field(default_factory=now_ms)
    update_time: int = field(default_factory=now_ms)
    visible_at: float = 0.0  # time.monotonic() from which REST look-ups see it

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed if self.executed else Decimal(0)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    def visible(self) -> bool:
        return time.monotonic() >= self.visible_at

    def rest(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id, "symbol": self.symbol, "status": self.status,
            "clientOrderId": self.client_id, "price": fmt(self.price),
            "avgPrice": fmt(self.avg_price), "origQty": fmt(self.qty),
            "executedQty": fmt(self.executed), "cumQty": fmt(self.executed),
            "cumQuote": fmt(self.cum_quote),
            "timeInForce": self.time_in_force, "type": self.type,
            "reduceOnly": self.reduce_only, "closePosition": self.close_position,
            "side": self.side, "positionSide": self.position_side,
            "stopPrice": fmt(self.stop_price),
            "workingType": "CONTRACT_PRICE", "priceProtect": False,
            "origType": self.orig_type or self.type, "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0,
            "time": self.time, "updateTime": self.update_time,
        }

    def ack(self) -> dict[str, Any]:
        """The reply to POST /fapi/v1/order with the default ``newOrderRespType=ACK``: what
        the order was when accepted, before the matching engine touched it."""
        row = self.rest()
        row.update(status="NEW", avgPrice="0.00", executedQty="0", cumQty="0", cumQuote="0",
                   updateTime=self.time)
        return row


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
    position_side: str = "BOTH"
    status: str = "NEW"
    actual_order_id: str = ""
    avg_price: Decimal = Decimal(0)
    executed: Decimal = Decimal(0)
    trigger_time: int = 0
    reject_reason: str = ""
    create_time: int = field(default_factory=now_ms)
    update_time: int = field(default_factory=now_ms)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "TRIGGERING")

    def rest(self) -> dict[str, Any]:
        return {
            "algoId": self.algo_id, "clientAlgoId": self.client_algo_id,
            "algoType": "CONDITIONAL", "orderType": self.type, "symbol": self.symbol,
            "side": self.side, "positionSide": self.position_side, "timeInForce": "GTC",
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
        body = {
            "caid": self.client_algo_id, "aid": self.algo_id, "at": "CONDITIONAL",
            "o": self.type, "s": self.symbol, "S": self.side, "ps": self.position_side,
            "f": "GTC", "q": fmt(self.qty), "X": self.status, "ai": self.actual_order_id,
            "ap": fmt(self.avg_price), "aq": fmt(self.executed),
            "act": "MARKET" if self.actual_order_id else "0",
            "tp": fmt(self.trigger_price), "p": "0", "V": "EXPIRE_MAKER",
            "wt": self.working_type, "pm": "NONE", "cp": self.close_position,
            "pP": False, "R": self.reduce_only, "tt": self.trigger_time, "gtd": 0,
        }
        if self.reject_reason:
            body["rm"] = self.reject_reason
        return {"e": "ALGO_UPDATE", "T": ts, "E": ts, "o": body}


@dataclass
class PositionState:
    symbol: str
    amount: Decimal = Decimal(0)  # signed, one-way mode
    entry: Decimal = Decimal(0)
    isolated_wallet: Decimal = Decimal(0)
    leverage: int = 20
    margin_type: str = "CROSSED"
