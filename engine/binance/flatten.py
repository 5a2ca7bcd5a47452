"""What the exchange holds, read and cleared over REST only: open positions and orders (regular
and algo), cancel all, close a position reduce-only, and the emergency stop's loop until
Binance reports flat. No stream is needed, so it works with the market and user streams down.

A base class of ``BinanceVenue`` (venue.py), which owns the attributes named below.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.binance.orders import Tracked, client_order_id, open_order_intents
from tapedesk.engine.events import OrderIntent, OrderRole, OrderType, Position, Side

if TYPE_CHECKING:
    from tapedesk.engine.binance.placement import LiveOrders
    from tapedesk.engine.binance.rest import RestGate
    from tapedesk.engine.binance.settings import LiveSettings

#: The venue's logger: these lines are the venue's own.
log = logging.getLogger("tapedesk.engine.binance.venue")


class Flatten:
    gate: RestGate
    book: LiveOrders
    settings: LiveSettings
    symbols: list[str]
    leverage: dict[str, int]
    positions: dict[str, Position]
    _now_ms: Callable[[], int]

    async def cancel_all(self, symbol: str | None = None) -> None:
        """Regular *and* algo orders: ``allOpenOrders`` does not touch the Algo service."""
        for sym in [symbol] if symbol else self._traded_symbols():
            await self.gate.call("futures_cancel_all_open_orders", symbol=sym)
            await self.gate.call("futures_cancel_all_algo_open_orders", symbol=sym)

    async def fetch_positions(self) -> dict[str, Position]:
        rows = await self.gate.call("futures_position_information", weight=5)
        out: dict[str, Position] = {}
        for row in rows:
            amt = Decimal(row["positionAmt"])
            if not amt or row.get("positionSide", "BOTH") != "BOTH":
                continue
            sym = row["symbol"]
            out[sym] = Position(
                symbol=sym, side=Side.LONG if amt > 0 else Side.SHORT, qty=abs(amt),
                entry_price=Decimal(row["entryPrice"]), leverage=self.leverage.get(sym, 0),
                opened_ts=int(row.get("updateTime", 0)),
                margin=Decimal(row.get("isolatedWallet", "0")),
                liquidation_price=Decimal(row.get("liquidationPrice", "0")))
        self.positions = out
        return out

    async def fetch_open_orders(self) -> list[OrderIntent]:
        """Open regular and algo orders with their real types, sides and triggers."""
        return open_order_intents(await self.gate.call("futures_get_open_orders", weight=40),
                                  await self.gate.call("futures_get_open_algo_orders"))

    async def close_position(self, position: Position) -> None:
        """Close one position reduce-only at market (reconciliation's "flatten")."""
        token = f"{position.symbol[:6]}{self._now_ms():x}"
        intent = OrderIntent(
            client_id=client_order_id(token, OrderRole.FLATTEN), symbol=position.symbol,
            side=position.side.opposite.order_side, type=OrderType.MARKET, qty=position.qty,
            role=OrderRole.FLATTEN, ts=self._now_ms(), reduce_only=True)
        tr = self.book.orders[intent.client_id] = Tracked(intent, False)
        await self.book.place(tr)

    # -- emergency stop --------------------------------------------------------------------
    async def flatten_all(self, say: Callable[[str], None] = log.warning) -> bool:
        """Cancel every regular and algo order, close every position reduce-only at market,
        and poll until Binance reports flat with nothing open. REST only: it works with the
        market-data stream down. Returns True once verified flat."""
        st = self.settings
        for rnd in range(1, st.flat_rounds + 1):
            try:
                await self.cancel_all()
                say(f"emergency stop: canceled all regular and algo orders (round {rnd})")
                positions = await self.fetch_positions()
                for sym, pos in positions.items():
                    say(f"emergency stop: closing {pos.side} {pos.qty} {sym} reduce-only")
                    await self.close_position(pos)
                await asyncio.sleep(st.flat_poll_s)
                positions = await self.fetch_positions()
                open_orders = await self.fetch_open_orders()
                if not positions and not open_orders:
                    say("emergency stop: verified flat with Binance: no position, no open "
                        "order, no open algo order")
                    return True
                say(f"emergency stop: not flat yet ({len(positions)} position(s), "
                    f"{len(open_orders)} open order(s)); retrying")
            except VenueError as exc:
                say(f"emergency stop: {exc.text}; retrying")
                wait = exc.retry_after or st.flat_poll_s
                await asyncio.sleep(min(wait, 30.0))
        return False

    def _traded_symbols(self) -> list[str]:
        return sorted(set(self.symbols) | set(self.positions) | self.book.open_symbols())
