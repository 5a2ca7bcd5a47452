"""Switches for the ways real Binance differs from a tidy fake, each off by default so the
older tests keep their simple world, and all on with ``Behaviour.binance()``.

Each one is something the real USDT-M exchange does in normal operation:

- ``market_split``: a MARKET order fills in several trades (the book has several levels),
  each with its own trade id, price (a tick worse each time), commission and
  ORDER_TRADE_UPDATE (PARTIALLY_FILLED ... FILLED) plus ACCOUNT_UPDATE;
- ``ack_replies``: POST /fapi/v1/order answers with ``newOrderRespType=ACK`` (status NEW,
  executedQty 0) even when the order has already filled, as Binance's default does;
- ``hide_next_orders`` / ``hide_for_s``: the next orders exist and trade at once but GET
  /fapi/v1/order, openOrders and allOrders answer -2013 / leave them out for a while
  (``hide_stream`` holds their user-stream events for as long);
- ``algo_new_client_id``: a triggered conditional order spawns a regular order with a
  client id of its own (not the algo's ``clientAlgoId``); only ``actualOrderId`` links them;
- ``algo_order_first``: the spawned order's ORDER_TRADE_UPDATE events are pushed before
  the ALGO_UPDATE TRIGGERED / FINISHED that name it;
- ``expire_after``: the next MARKET order fills this fraction, then the rest EXPIRES (the
  book ran out inside the price band): an entry that ends partly filled;
- ``price_after_fill``: the market jumps right after the next opening order fills (a fast
  market): a stop computed from the signal's price may then be on the wrong side already.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class Behaviour:
    market_split: list[Decimal] = field(default_factory=list)  # e.g. [0.5, 0.3, 0.2]
    split_orders: int = -1  # how many upcoming MARKET orders are split; -1 = all
    split_reduce_only: bool = False  # split closing orders as well as opening ones
    split_tick_gap: int = 1  # each next trade this many ticks worse
    ack_replies: bool = False
    hide_next_orders: int = 0
    hide_for_s: float = 0.0
    hide_stream: bool = False
    algo_new_client_id: bool = False
    algo_order_first: bool = False
    price_after_fill: Decimal | None = None  # one-shot
    expire_after: Decimal | None = None  # one-shot fraction, e.g. Decimal("0.4")

    @classmethod
    def binance(cls, split: tuple[str, ...] = ("0.5", "0.3", "0.2")) -> Behaviour:
        """Everything real at once (entries fill in three trades)."""
        return cls(market_split=[Decimal(s) for s in split], ack_replies=True,
                   algo_new_client_id=True, algo_order_first=True)

    def take_split(self, reduce_only: bool) -> list[Decimal]:
        """The fractions for the next MARKET order ([] = one trade)."""
        if not self.market_split or self.split_orders == 0:
            return []
        if reduce_only and not self.split_reduce_only:
            return []
        if self.split_orders > 0:
            self.split_orders -= 1
        return list(self.market_split)

    def take_hide(self) -> float:
        """Seconds the next new order stays invisible to look-ups (0 = visible at once)."""
        if self.hide_next_orders <= 0:
            return 0.0
        self.hide_next_orders -= 1
        return self.hide_for_s
