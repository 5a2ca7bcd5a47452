"""What the desk knows about the Binance futures account: wallet, available balance, positions,
leverage brackets and commission rates.

Live sizing must measure against the account, not a configured paper balance: the wallet and
the available balance are read over REST at start and then kept current from the user
stream's ``ACCOUNT_UPDATE`` (``a.B[].wb`` wallet balance, ``a.B[].cw`` cross wallet balance,
i.e. the wallet without the margin locked in isolated positions; ``a.P[]`` only the positions
that changed). A ``FUNDING_FEE`` update on an isolated position carries that one position and
the USDT balance change ``bc``, which is the funding paid or received.
(https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Event-Balance-and-Position-Update)

Maintenance margin is tiered: ``/fapi/v1/leverageBracket`` lists, per symbol, notional caps
with their maintenance margin rate and maintenance amount (``cum``). The table changes over
time, so it is read at every start; which tier applies is the engine's rule, not this
file's. Fees come from ``/fapi/v1/commissionRate`` (the account's tier, not Binance's public
default).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.binance.rest import RestGate
from tapedesk.engine.events import Position, Side

log = logging.getLogger(__name__)

DEFAULT_MAKER = Decimal("0.0002")
DEFAULT_TAKER = Decimal("0.0005")


class Bracket(NamedTuple):
    """One maintenance-margin tier: applies to a position notional up to ``notional_cap``."""

    notional_cap: Decimal
    mmr: Decimal
    cum: Decimal


class FundingPaid(NamedTuple):
    symbol: str
    amount: Decimal  # signed, from the account's point of view
    ts: int
    rate: float = 0.0


def brackets_from_rows(rows: Any) -> list[Bracket]:
    """``futures_leverage_bracket(symbol=...)`` answer → tiers sorted by cap."""
    row = rows[0] if isinstance(rows, list) else rows
    return sorted(
        (Bracket(Decimal(str(b["notionalCap"])), Decimal(str(b["maintMarginRatio"])),
                 Decimal(str(b.get("cum", 0)))) for b in row["brackets"]),
        key=lambda b: b.notional_cap)


class AccountState:
    """Wallet, available balance, positions, brackets and fees of one futures account (USDT)."""

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self.wallet = Decimal(0)
        self.available = Decimal(0)
        self.positions: dict[str, Position] = {}
        self.brackets: dict[str, list[Bracket]] = {}
        self.bracket_rows: dict[str, dict[str, Any]] = {}  # as Binance sent them
        self.maker_fee = DEFAULT_MAKER
        self.taker_fee = DEFAULT_TAKER
        self.notes: list[str] = []

    # -- REST, at start and on every resync -----------------------------------------------
    async def fetch_balance(self, gate: RestGate) -> Decimal:
        """Wallet balance in USDT (``/fapi/v3/balance``); also refreshes the available one."""
        for row in await gate.call("futures_account_balance", weight=5):
            if row.get("asset") == "USDT":
                self.wallet = Decimal(str(row["balance"]))
                self.available = Decimal(str(row.get("availableBalance", row["balance"])))
                return self.wallet
        return Decimal(0)

    async def load_brackets(self, gate: RestGate, symbols: list[str]) -> None:
        for sym in symbols:
            try:
                rows = await gate.call("futures_leverage_bracket", symbol=sym)
                self.brackets[sym] = brackets_from_rows(rows)
                self.bracket_rows[sym] = rows[0] if isinstance(rows, list) else rows
            except (VenueError, KeyError, IndexError, TypeError, InvalidOperation) as exc:
                text = exc.text if isinstance(exc, VenueError) else f"unreadable answer ({exc})"
                self.notes.append(f"{sym}: leverage brackets not read ({text})")

    async def load_commission(self, gate: RestGate, symbol: str) -> None:
        """Maker/taker rates of this account (``/fapi/v1/commissionRate``, weight 20)."""
        try:
            res = await gate.call("futures_commission_rate", symbol=symbol, weight=20)
            self.maker_fee = Decimal(str(res["makerCommissionRate"]))
            self.taker_fee = Decimal(str(res["takerCommissionRate"]))
        except (VenueError, KeyError, InvalidOperation) as exc:
            text = exc.text if isinstance(exc, VenueError) else f"unreadable answer ({exc})"
            self.notes.append(f"commission rates not read ({text}); assuming "
                              f"{self.maker_fee * 100}% maker / {self.taker_fee * 100}% taker")

    # -- user stream ------------------------------------------------------------------------
    def apply_update(self, a: dict[str, Any], leverage: dict[str, int],
                     ts: int) -> list[FundingPaid]:
        """One ``ACCOUNT_UPDATE`` ``a`` object; returns the funding it carried, if any."""
        funding: list[FundingPaid] = []
        for b in a.get("B", []):
            if b.get("a") != "USDT":
                continue
            self.wallet = Decimal(str(b["wb"]))
            # With isolated positions only, "cw" is the wallet minus their margin: what new
            # orders can use (open orders' margin aside).
            self.available = Decimal(str(b.get("cw", b["wb"])))
            if a.get("m") == "FUNDING_FEE" and b.get("bc"):
                syms = [p["s"] for p in a.get("P", [])] or [""]
                funding.append(FundingPaid(syms[0], Decimal(str(b["bc"])), ts))
        for p in a.get("P", []):
            if p.get("ps", "BOTH") != "BOTH":
                continue
            sym, amt = p["s"], Decimal(str(p["pa"]))
            if not amt:
                self.positions.pop(sym, None)
                continue
            old = self.positions.get(sym)
            self.positions[sym] = Position(
                symbol=sym, side=Side.LONG if amt > 0 else Side.SHORT, qty=abs(amt),
                entry_price=Decimal(str(p["ep"])), leverage=leverage.get(sym, 0),
                opened_ts=old.opened_ts if old else self._now_ms(),
                margin=Decimal(str(p.get("iw", "0"))))
        return funding

    def attribute(self, paid: FundingPaid, last_price: dict[str, float]) -> FundingPaid | None:
        """The position a funding payment belongs to (a cross position's update names none:
        the one open position, if there is exactly one) and the rate the payment implies
        at the last price; ACCOUNT_UPDATE carries the payment, not the rate. A long pays
        when the rate is positive."""
        symbol = paid.symbol or (next(iter(self.positions)) if len(self.positions) == 1
                                 else "")
        if not symbol:
            return None
        pos = self.positions.get(symbol)
        price = Decimal(str(last_price.get(symbol) or 0)) or (
            pos.entry_price if pos else Decimal(0))
        rate = 0.0
        if pos is not None and pos.qty and price:
            rate = float(-paid.amount * pos.side.sign / (pos.qty * price))
        return paid._replace(symbol=symbol, rate=rate)
