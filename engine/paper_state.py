"""The paper venue's books as plain JSON, so a restarted desk continues where it stopped.

A separate concern from simulating the exchange: the shape of a saved account (and of the
positions a checkpoint stores) changes for compatibility reasons, not for trading ones.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tapedesk.engine.events import OrderIntent, OrderRole, OrderType, Position, Side

if TYPE_CHECKING:
    from tapedesk.engine.paper_venue import PaperVenue


def venue_state(v: PaperVenue) -> dict[str, Any]:
    return {
        "balance": str(v.balance),
        "fees_paid": str(v.fees_paid),
        "funding_paid": str(v.funding_paid),
        "trade_seq": v._trade_seq,
        "next_funding": v._schedule.grid_next,
        "funding_times": v._schedule.to_state(),
        "leverage": v.leverage,
        "last_price": v.last_price,
        "positions": [_pos_to_dict(p) for p in v.book.positions.values()],
        "orders": [
            {**_intent_to_dict(r.intent), "active_ts": r.active_ts}
            for r in v.orders.values()
        ],
    }


def load_venue_state(v: PaperVenue, state: dict[str, Any]) -> list[tuple[OrderIntent, int]]:
    """Restore everything but the resting orders, returned as (intent, active_ts) for the
    venue to re-rest (it owns how an order rests)."""
    v.balance = Decimal(state["balance"])
    v.fees_paid = Decimal(state.get("fees_paid", "0"))
    v.funding_paid = Decimal(state.get("funding_paid", "0"))
    v._trade_seq = int(state.get("trade_seq", 0))
    v._schedule.load_state(int(state.get("next_funding", 0)), state.get("funding_times"))
    v._next_funding = v._schedule.next_time()
    v.leverage = {k: int(x) for k, x in state.get("leverage", {}).items()}
    v.last_price = {k: float(x) for k, x in state.get("last_price", {}).items()}
    v.book.positions = {p["symbol"]: _pos_from_dict(p) for p in state.get("positions", [])}
    return [(_intent_from_dict(o), int(o["active_ts"])) for o in state.get("orders", [])]


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
