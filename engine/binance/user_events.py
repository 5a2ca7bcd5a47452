"""The user-data stream, parsed at the edge: Binance's one-letter fields become typed records,
and a malformed message is logged and skipped, never raised into the stream's reader.

- ``ORDER_TRADE_UPDATE`` (one per order state change; one per *trade* when an order fills in
  several: ``x=TRADE`` with its own trade id ``t``, last quantity ``l``, last price ``L``,
  commission ``n`` in asset ``N``, cumulative ``z``)
  (https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Event-Order-Update);
- ``ALGO_UPDATE`` for conditional orders on the Algo service (``caid`` client algo id, ``aid``
  algo id, ``X`` NEW/TRIGGERING/TRIGGERED/FINISHED/CANCELED/REJECTED/EXPIRED, ``ai`` the id
  of the regular order it spawned once triggered, ``rm`` why it was rejected)
  (https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Event-Algo-Order-Update);
- ``ACCOUNT_UPDATE`` for wallet and positions (see ``account.py``);
- ``listenKeyExpired``: the stream is dead; open a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from tapedesk.engine.binance.account import AccountState, FundingPaid

if TYPE_CHECKING:
    from tapedesk.engine.binance.orders import LiveOrders

log = logging.getLogger(__name__)

# Binance's own orders on the account: liquidation, auto-deleveraging, delisting settlement.
EXCHANGE_CLOSE_PREFIXES = ("autoclose-", "adl_autoclose", "settlement_autoclose-")


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One ``ORDER_TRADE_UPDATE``."""

    symbol: str
    client_id: str
    order_id: str
    side: str
    exec_type: str  # NEW, TRADE, CANCELED, EXPIRED, CALCULATED, AMENDMENT
    status: str  # NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, EXPIRED_IN_MATCH
    cum_qty: Decimal
    avg_price: Decimal
    last_qty: Decimal
    last_price: Decimal
    fee: Decimal
    fee_asset: str
    trade_id: str
    trade_ts: int
    maker: bool
    orig_type: str


@dataclass(frozen=True, slots=True)
class AlgoEvent:
    """One ``ALGO_UPDATE``."""

    client_algo_id: str
    algo_id: str
    symbol: str
    status: str
    actual_order_id: str
    reason: str


def _d(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def parse_order(o: dict[str, Any]) -> OrderEvent:
    return OrderEvent(
        symbol=o["s"], client_id=str(o.get("c", "")), order_id=str(o["i"]), side=o.get("S", ""),
        exec_type=o["x"], status=o["X"], cum_qty=_d(o.get("z")), avg_price=_d(o.get("ap")),
        last_qty=_d(o.get("l")), last_price=_d(o.get("L")),
        # Binance pushes no "n" when there is no commission.
        fee=abs(_d(o.get("n"))), fee_asset=o.get("N") or "USDT", trade_id=str(o.get("t", 0)),
        trade_ts=int(o.get("T", 0)), maker=bool(o.get("m")), orig_type=o.get("ot", ""))


def parse_algo(o: dict[str, Any]) -> AlgoEvent:
    return AlgoEvent(
        client_algo_id=str(o["caid"]), algo_id=str(o.get("aid", "")), symbol=o.get("s", ""),
        status=o["X"], actual_order_id=str(o.get("ai") or ""), reason=o.get("rm") or "")


class UserEvents:
    """Hands each user-stream message to the order book or the account it is about."""

    def __init__(self, orders: LiveOrders, account: AccountState, leverage: dict[str, int],
                 on_funding: Callable[[FundingPaid], None], on_expired: Callable[[], None],
                 on_error: Callable[[str], None]) -> None:
        self.orders = orders
        self.account = account
        self.leverage = leverage
        self._on_funding = on_funding
        self._on_expired = on_expired
        self._on_error = on_error
        self.skipped = 0  # malformed messages, for tests and the log

    def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("e") if isinstance(msg, dict) else None
        try:
            if kind == "ORDER_TRADE_UPDATE":
                event: OrderEvent | AlgoEvent = parse_order(msg["o"])
            elif kind == "ALGO_UPDATE":
                event = parse_algo(msg["o"])
            elif kind == "ACCOUNT_UPDATE":
                ts = int(msg.get("T") or msg.get("E") or 0)
                for paid in self.account.apply_update(msg["a"], self.leverage, ts):
                    self._on_funding(paid)
                return
            elif kind == "MARGIN_CALL":
                syms = ", ".join(p.get("s", "?") for p in msg.get("p", []))
                self._on_error(f"Binance margin call on {syms or 'the account'}: margin is "
                               "close to the maintenance level")
                return
            else:
                if kind == "listenKeyExpired":
                    self._on_expired()
                return
        except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
            self.skipped += 1
            log.warning("malformed %s message from the user stream skipped (%s: %s): %.300s",
                        kind, type(exc).__name__, exc, msg)
            return
        if isinstance(event, OrderEvent):
            self.orders.on_order_event(event)
        else:
            self.orders.on_algo_event(event)
