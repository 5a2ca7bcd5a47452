"""Conditional orders on Binance's Algo service (/fapi/v1/algoOrder, since 2025-12-09):
STOP_MARKET and TAKE_PROFIT_MARKET wait for their trigger, then spawn a regular MARKET order.

Real rules kept here: -2021 "Order would immediately trigger." when the trigger is already
crossed by the working price (last price for CONTRACT_PRICE, mark price for MARK_PRICE);
closePosition orders expire with their position; the spawned order may carry a client id of
its own and report before TRIGGERED (see ``behaviour.Behaviour``).
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from tests.local_exchange.model import AlgoOrder, ApiError, fmt, now_ms


class AlgoBook:
    """Mixed into ``state.Account``: uses its positions, symbols, new_order and events."""

    algos: dict[int, AlgoOrder]

    def open_algos(self, symbol: str | None = None) -> list[AlgoOrder]:
        return [a for a in self.algos.values()
                if a.is_open and (symbol is None or a.symbol == symbol)]

    def find_algo(self, algo_id: Any = None, client_algo_id: str | None = None) -> AlgoOrder:
        for a in sorted(self.algos.values(), key=lambda a: -a.algo_id):
            if (algo_id is not None and str(a.algo_id) == str(algo_id)) or (
                client_algo_id is not None and a.client_algo_id == client_algo_id
            ):
                return a
        raise ApiError(-2013, "Order does not exist.")

    # -- algo orders --------------------------------------------------------------------
    def working_price(self, symbol: str, working_type: str) -> Decimal:
        return self.marks[symbol] if working_type == "MARK_PRICE" else self.prices[symbol]

    def new_algo(self, p: dict[str, str]) -> AlgoOrder:
        symbol = p.get("symbol", "")
        info = self.info(symbol)
        if p.get("algoType") != "CONDITIONAL":
            raise ApiError(-1116, "Invalid algoType.")
        otype = p.get("type", "")
        if otype not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise ApiError(-1116, "Invalid orderType.")
        side = p.get("side", "")
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        position_side = self._check_position_side(p)
        trigger = Decimal(p.get("triggerPrice", "0"))
        if trigger <= 0 or trigger % info.tick != 0:
            raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
        close_position = p.get("closePosition", "false").lower() == "true"
        reduce_only = p.get("reduceOnly", "false").lower() == "true"
        if close_position and (reduce_only or "quantity" in p):
            raise ApiError(-4136, "Target strategy invalid for orderType "
                           f"{otype},closePosition true")
        qty = Decimal(p.get("quantity", "0"))
        if not close_position:
            self._check_filters(info, qty, None, True, reduce_only, trigger)
        if len(self.open_algos(symbol)) >= 10:  # the MAX_NUM_ALGO_ORDERS filter
            raise ApiError(-4045, "Reach max stop order limit.")
        client_id = p.get("clientAlgoId") or f"algo-{next(self._algo_ids)}"
        if any(a.client_algo_id == client_id for a in self.open_algos()):
            raise ApiError(-4015, "Client order id is not valid.")
        algo = AlgoOrder(
            algo_id=next(self._algo_ids), client_algo_id=client_id, symbol=symbol, side=side,
            type=otype, qty=qty, trigger_price=trigger, reduce_only=reduce_only,
            close_position=close_position, working_type=p.get("workingType", "CONTRACT_PRICE"),
            position_side=position_side,
        )
        if self._triggers(algo, self.working_price(symbol, algo.working_type)):
            raise ApiError(-2021, "Order would immediately trigger.")
        self.algos[algo.algo_id] = algo
        self._emit(algo.event(algo.create_time))
        return algo

    @staticmethod
    def _triggers(algo: AlgoOrder, price: Decimal) -> bool:
        """A BUY stop / SELL take-profit fires at or above its trigger; the others at or below."""
        up = (algo.type == "STOP_MARKET") == (algo.side == "BUY")
        return price >= algo.trigger_price if up else price <= algo.trigger_price

    def cancel_algo(self, algo_id: Any, client_algo_id: str | None) -> AlgoOrder:
        algo = self.find_algo(algo_id, client_algo_id)
        if algo.status != "NEW":
            raise ApiError(-2011, "Unknown order sent.")
        algo.status = "CANCELED"
        algo.update_time = now_ms()
        self._emit(algo.event(algo.update_time))
        return algo

    def cancel_all_algos(self, symbol: str) -> None:
        for algo in self.open_algos(symbol):
            algo.status = "CANCELED"
            self._emit(algo.event(now_ms()))

    def _trigger(self, algo: AlgoOrder) -> None:
        """TRIGGERING, then the regular MARKET order it spawns, then TRIGGERED and FINISHED.
        With ``algo_order_first`` the spawned order's events are pushed before TRIGGERED;
        with ``algo_new_client_id`` it carries a client id of its own."""
        ts = now_ms()
        algo.status = "TRIGGERING"
        algo.trigger_time = ts
        self._emit(algo.event(ts))
        pos = self.positions[algo.symbol]
        qty = abs(pos.amount) if algo.close_position else algo.qty
        spawned_id = (secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")
                      if self.behaviour.algo_new_client_id else algo.client_algo_id)
        params = {"symbol": algo.symbol, "side": algo.side, "type": "MARKET",
                  "quantity": fmt(qty), "reduceOnly": "true" if (
                      algo.reduce_only or algo.close_position) else "false",
                  "newClientOrderId": spawned_id, "_orig_type": algo.type,
                  "positionSide": algo.position_side if self.dual_side else "BOTH"}
        try:
            if qty <= 0:
                raise ApiError(-2022, "ReduceOnly Order is rejected.")
            order = self.new_order(params, execute=False)
        except ApiError as exc:
            algo.status = "REJECTED"
            # the wording of the documented ALGO_UPDATE example
            algo.reject_reason = "Reduce Only reject" if exc.code == -2022 else exc.msg
            self._emit(algo.event(ts))
            return
        algo.actual_order_id = str(order.order_id)
        if self.behaviour.algo_order_first:
            self._fill_market(order)  # NEW and TRADE events go out before TRIGGERED
        algo.status = "TRIGGERED"
        self._emit(algo.event(ts))
        if not self.behaviour.algo_order_first:
            self._fill_market(order)
        if order.status in ("FILLED", "EXPIRED"):
            algo.status = "FINISHED"
            algo.avg_price = order.avg_price
            algo.executed = order.executed
            algo.update_time = now_ms()
            self._emit(algo.event(algo.update_time))

