"""The REST routes of the local exchange: one table from (method, path) to the account.

Answers are Binance's documented shapes (USDT-M: New Order, Query Order, Current All Open
Orders, All Orders, New/Query/Cancel Algo Order, Account Trade List, Get Income History,
Position Information V2/V3, Account Information V2/V3, Futures Account Balance V3, Get
Current Multi-Assets Mode, Get Current Position Mode, User Commission Rate, Notional and
Leverage Brackets, Symbol Configuration). Errors are raised as ``ApiError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.local_exchange.model import ApiError, fmt

if TYPE_CHECKING:
    from tests.local_exchange.server import LocalExchange

CANCEL_ALL_DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}


def answer(ex: LocalExchange, method: str, path: str, p: dict[str, str]) -> Any:
    """The JSON body for a request that passed the gateway, or ``ApiError``."""
    acct = ex.account
    route = (method, path)
    sym = p.get("symbol", "")
    if route == ("GET", "/fapi/v1/ping"):
        return {}
    if route == ("GET", "/fapi/v1/time"):
        return {"serverTime": ex.server_ms()}
    if route == ("GET", "/fapi/v1/exchangeInfo"):
        return ex.exchange_info()
    if route == ("GET", "/fapi/v1/premiumIndex"):
        sym = sym or "BTCUSDT"
        return {"symbol": sym, "markPrice": fmt(acct.marks[sym]),
                "indexPrice": fmt(acct.marks[sym]), "lastFundingRate": "0.00010000",
                "nextFundingTime": (ex.server_ms() // 28_800_000 + 1) * 28_800_000,
                "time": ex.server_ms()}
    if route == ("GET", "/fapi/v1/ticker/bookTicker"):
        sym = sym or "BTCUSDT"
        bid, ask = acct.bid_ask(sym)
        return {"symbol": sym, "bidPrice": fmt(bid), "bidQty": "5", "askPrice": fmt(ask),
                "askQty": "4", "time": ex.server_ms()}
    if route == ("GET", "/fapi/v1/depth"):
        if sym in ex.depth_snapshots:
            return ex.depth_snapshots[sym]
        book = ex.depth.get(sym)
        if book is None:
            raise ApiError(-1121, "Invalid symbol.")
        return book.snapshot(int(p.get("limit", "500")), ex.server_ms())
    if path == "/fapi/v1/listenKey":
        return ex.listen_key(method, p)
    if route in (("GET", "/fapi/v2/account"), ("GET", "/fapi/v3/account")):
        return acct.account(3 if "/v3/" in path else 2)
    if route == ("GET", "/fapi/v1/accountConfig"):
        return acct.account_config()
    if route in (("GET", "/fapi/v3/balance"), ("GET", "/fapi/v2/balance")):
        return acct.balance()
    if route in (("GET", "/fapi/v3/positionRisk"), ("GET", "/fapi/v2/positionRisk")):
        return acct.position_risk(p.get("symbol"))
    if route == ("GET", "/fapi/v1/positionSide/dual"):
        return {"dualSidePosition": acct.dual_side}
    if route == ("POST", "/fapi/v1/positionSide/dual"):
        return acct.set_dual_side(p.get("dualSidePosition", ""))
    if route == ("GET", "/fapi/v1/multiAssetsMargin"):
        return {"multiAssetsMargin": acct.multi_assets}
    if route == ("POST", "/fapi/v1/multiAssetsMargin"):
        return acct.set_multi_assets(p.get("multiAssetsMargin", ""))
    if route == ("GET", "/fapi/v1/apiTradingStatus"):
        return {"indicators": {}, "updateTime": 0}
    if route == ("GET", "/fapi/v1/commissionRate"):
        return acct.commission_rate(sym)
    if route == ("GET", "/fapi/v1/leverageBracket"):
        return acct.leverage_brackets(p.get("symbol"))
    if route == ("GET", "/fapi/v1/symbolConfig"):
        return [{"symbol": pos.symbol, "marginType": pos.margin_type,
                 "isAutoAddMargin": "false", "leverage": pos.leverage,
                 "maxNotionalValue": str(int(acct.symbols[pos.symbol].max_notional(
                     pos.leverage)))}
                for pos in acct.positions.values() if not sym or pos.symbol == sym]
    if route == ("POST", "/fapi/v1/marginType"):
        return acct.set_margin_type(sym, p.get("marginType", ""))
    if route == ("POST", "/fapi/v1/leverage"):
        return acct.set_leverage(sym, int(p.get("leverage", "0")))
    return _orders(ex, route, p)


def _orders(ex: LocalExchange, route: tuple[str, str], p: dict[str, str]) -> Any:
    acct = ex.account
    sym = p.get("symbol", "")
    if route == ("POST", "/fapi/v1/order"):
        order = acct.new_order(p)
        if acct.behaviour.ack_replies and p.get("newOrderRespType", "ACK") == "ACK":
            return order.ack()
        return order.rest()
    if route == ("GET", "/fapi/v1/order"):
        if not p.get("orderId") and not p.get("origClientOrderId"):
            raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but "
                           "both were empty/null!")
        return acct.find_order(sym, p.get("orderId"), p.get("origClientOrderId"),
                               visible=True).rest()
    if route == ("DELETE", "/fapi/v1/order"):
        return acct.cancel_order(sym, p.get("orderId"), p.get("origClientOrderId")).rest()
    if route == ("GET", "/fapi/v1/openOrders"):
        return [o.rest() for o in acct.open_orders(p.get("symbol"), visible=True)]
    if route == ("GET", "/fapi/v1/allOrders"):
        return acct.all_orders(p)
    if route == ("DELETE", "/fapi/v1/allOpenOrders"):
        acct.cancel_all(sym)
        return CANCEL_ALL_DONE
    if route == ("POST", "/fapi/v1/algoOrder"):
        return acct.new_algo(p).rest()
    if route == ("GET", "/fapi/v1/algoOrder"):
        return acct.find_algo(p.get("algoId"), p.get("clientAlgoId")).rest()
    if route == ("DELETE", "/fapi/v1/algoOrder"):
        algo = acct.cancel_algo(p.get("algoId"), p.get("clientAlgoId"))
        return {"algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id,
                "code": "200", "msg": "success"}
    if route == ("GET", "/fapi/v1/openAlgoOrders"):
        return [a.rest() for a in acct.open_algos(p.get("symbol"))]
    if route == ("GET", "/fapi/v1/allAlgoOrders"):
        return [a.rest() for a in acct.algos.values() if not sym or a.symbol == sym]
    if route == ("DELETE", "/fapi/v1/algoOpenOrders"):
        acct.cancel_all_algos(sym)
        return CANCEL_ALL_DONE
    if route == ("GET", "/fapi/v1/userTrades"):
        return acct.user_trades(p)
    if route == ("GET", "/fapi/v1/income"):
        return acct.income_history(p)
    raise ApiError(-1000, f"{route[0]} {route[1]} is not served by the local exchange", 404)
