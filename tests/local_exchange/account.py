"""The account side of the local exchange: wallet, positions, account-wide settings
(Multi-Assets mode, position mode, margin type, leverage), fees, funding, the trade and
income history, and every read-out the desk asks for (Account Information V3, Position
Information V3, balance, commission rate, leverage brackets, userTrades).

The order book side (orders, algo orders, matching) is ``state.Account``, built on this.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.local_exchange.behaviour import Behaviour
from tests.local_exchange.model import ApiError, PositionState, SymbolInfo, fmt, now_ms
from tests.local_exchange.protection import ProtectionMonitor

SEVEN_DAYS_MS = 7 * 86_400_000


class AccountBook:
    """The exchange's view of one account. Methods raise ``ApiError`` as Binance would."""

    def __init__(self, symbols: dict[str, SymbolInfo], balance: Decimal,
                 prices: dict[str, Decimal], behaviour: Behaviour | None = None,
                 maker_rate: Decimal = Decimal("0.0002"),
                 taker_rate: Decimal = Decimal("0.0005")) -> None:
        self.symbols = symbols
        self.wallet = Decimal(balance)
        self.prices = dict(prices)  # last traded price
        self.marks = dict(prices)  # mark price
        self.positions = {s: PositionState(s) for s in symbols}
        self.behaviour = behaviour or Behaviour()
        self.maker_rate = maker_rate
        self.taker_rate = taker_rate
        self.trades: list[dict[str, Any]] = []
        self.income: list[dict[str, Any]] = []
        self.dual_side = False
        self.multi_assets = False
        self.protection = ProtectionMonitor()
        # user-data events waiting to be pushed: (release at time.monotonic(), event)
        self.pending: list[tuple[float, dict[str, Any]]] = []
        self._income_ids = 9_000_000

    # -- helpers ------------------------------------------------------------------------
    def info(self, symbol: str) -> SymbolInfo:
        info = self.symbols.get(symbol)
        if info is None:
            raise ApiError(-1121, "Invalid symbol.")
        return info

    def bid_ask(self, symbol: str) -> tuple[Decimal, Decimal]:
        price = self.prices[symbol]
        return price, price + self.symbols[symbol].tick

    def _emit(self, event: dict[str, Any], release_at: float = 0.0) -> None:
        self.pending.append((release_at, event))

    @property
    def events(self) -> list[dict[str, Any]]:
        """Events not yet pushed (read-only view, in order)."""
        return [e for _, e in self.pending]

    def unrealized(self, pos: PositionState) -> Decimal:
        if not pos.amount:
            return Decimal(0)
        return (self.marks[pos.symbol] - pos.entry) * pos.amount

    def maint_margin(self, pos: PositionState) -> Decimal:
        notional = abs(pos.amount) * self.marks[pos.symbol]
        b = self.symbols[pos.symbol].bracket_for(notional)
        return notional * b.mmr - b.cum

    def _record_income(self, symbol: str, kind: str, amount: Decimal, trade_id: int | str,
                       ts: int) -> None:
        if not amount:
            return
        self._income_ids += 1
        self.income.append({"symbol": symbol, "incomeType": kind, "income": fmt(amount),
                            "asset": "USDT", "info": kind, "time": ts,
                            "tranId": self._income_ids, "tradeId": str(trade_id)})

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
        if pos.amount or self._has_open_orders(symbol):
            raise ApiError(-4048, "Margin type cannot be changed if there exists position.")
        pos.margin_type = margin_type
        return {"code": 200, "msg": "success"}

    def _has_open_orders(self, symbol: str) -> bool:
        return False  # the order book (state.Account) answers this

    def set_leverage(self, symbol: str, leverage: int) -> dict[str, Any]:
        info = self.info(symbol)
        pos = self.positions[symbol]
        top = max(b.max_leverage for b in info.brackets)
        if not 1 <= leverage <= top:
            raise ApiError(-4028, f"Leverage {leverage} is not valid")
        cap = info.max_notional(leverage)
        if abs(pos.amount) * self.marks[symbol] > cap:
            raise ApiError(-2027, "Exceeded the maximum allowable position at current leverage.")
        pos.leverage = leverage
        ts = now_ms()  # Event: Account Configuration Update (leverage)
        self._emit({"e": "ACCOUNT_CONFIG_UPDATE", "E": ts, "T": ts,
                    "ac": {"s": symbol, "l": leverage}})
        return {"leverage": leverage, "maxNotionalValue": str(int(cap)), "symbol": symbol}

    def set_multi_assets(self, value: str) -> dict[str, Any]:
        on = value.lower() == "true"
        if on and any(p.margin_type == "ISOLATED" for p in self.positions.values()
                      if p.amount):
            raise ApiError(-4167, "Unable to adjust to Multi-Assets mode with symbols of "
                           "USDⓈ-M Futures under isolated-margin mode.")
        if on == self.multi_assets:
            raise ApiError(-4171, "Adjusted Multi-Assets mode is same as current Multi-Assets "
                           "mode.")
        self.multi_assets = on
        ts = now_ms()
        self._emit({"e": "ACCOUNT_CONFIG_UPDATE", "E": ts, "T": ts, "ai": {"j": on}})
        return {"code": 200, "msg": "success"}

    def set_dual_side(self, value: str) -> dict[str, Any]:
        on = value.lower() == "true"
        if on == self.dual_side:
            raise ApiError(-4059, "No need to change position side.")
        if any(p.amount for p in self.positions.values()):
            raise ApiError(-4068, "Position side cannot be changed if there exists position.")
        self.dual_side = on
        return {"code": 200, "msg": "success"}

    # -- money ---------------------------------------------------------------------------
    def funding(self, symbol: str, rate: Decimal) -> Decimal:
        """Settle funding now at ``rate`` (positive: longs pay shorts), on the mark price."""
        pos = self.positions[symbol]
        if not pos.amount:
            return Decimal(0)
        amount = (-pos.amount * self.marks[symbol] * rate).quantize(Decimal("0.00000001"))
        self.wallet += amount
        if pos.margin_type == "ISOLATED":
            pos.isolated_wallet += amount
        ts = now_ms()
        self._record_income(symbol, "FUNDING_FEE", amount, "", ts)
        self._account_event(symbol, "FUNDING_FEE", amount)
        return amount

    def deposit(self, amount: Decimal) -> None:
        """Money moved into (negative: out of) the futures wallet from outside the desk."""
        self.wallet += amount
        ts = now_ms()
        self._record_income("", "TRANSFER", amount, "", ts)
        self._emit({"e": "ACCOUNT_UPDATE", "E": ts, "T": ts, "a": {
            "m": "DEPOSIT" if amount > 0 else "WITHDRAW",
            "B": [{"a": "USDT", "wb": fmt(self.wallet), "cw": fmt(self.available()),
                   "bc": fmt(amount)}], "P": []}})

    def _account_event(self, symbol: str, reason: str, change: Decimal) -> None:
        """ACCOUNT_UPDATE after every balance or position change (Event: Balance and Position
        Update): ``wb`` wallet, ``cw`` cross wallet, ``bc`` balance change except PnL and
        commission (so funding shows there, trades do not). Funding on a crossed position
        comes with the balance only, on an isolated one with that position only."""
        pos = self.positions[symbol]
        ts = now_ms()
        bc = change if reason == "FUNDING_FEE" else Decimal(0)
        crossed_funding = reason == "FUNDING_FEE" and pos.margin_type != "ISOLATED"
        cross = self.wallet - sum((p.isolated_wallet for p in self.positions.values()),
                                  Decimal(0))
        self._emit({
            "e": "ACCOUNT_UPDATE", "E": ts, "T": ts,
            "a": {
                "m": reason,
                "B": [{"a": "USDT", "wb": fmt(self.wallet), "cw": fmt(cross), "bc": fmt(bc)}],
                "P": [] if crossed_funding else [
                    {"s": symbol, "pa": fmt(pos.amount), "ep": fmt(pos.entry),
                     "bep": fmt(pos.entry), "cr": "0", "up": fmt(self.unrealized(pos)),
                     "mt": "isolated" if pos.margin_type == "ISOLATED" else "cross",
                     "iw": fmt(pos.isolated_wallet), "ps": pos_side(self.dual_side, pos),
                     "ma": "USDT"}],
            },
        })

    # -- read-outs ------------------------------------------------------------------------
    def available(self) -> Decimal:
        return self.wallet - sum((p.isolated_wallet for p in self.positions.values()),
                                 Decimal(0))

    def liquidation_price(self, pos: PositionState) -> Decimal:
        """Isolated, one-way: LP = (WB + cum − Side·Q·EP) / (Q·MMR − Side·Q), with MMR and
        cum from the bracket the position's notional falls in."""
        if not pos.amount:
            return Decimal(0)
        side = 1 if pos.amount > 0 else -1
        q = abs(pos.amount)
        b = self.symbols[pos.symbol].bracket_for(q * self.marks[pos.symbol])
        lp = (pos.isolated_wallet + b.cum - side * q * pos.entry) / (q * b.mmr - side * q)
        return max(Decimal(0), lp).quantize(self.symbols[pos.symbol].tick)

    def position_risk(self, symbol: str | None = None) -> list[dict[str, Any]]:
        out = []
        for pos in self.positions.values():
            if symbol and pos.symbol != symbol:
                continue
            if not pos.amount and not symbol:
                continue  # v3 lists only symbols with a position or open orders
            mark = self.marks[pos.symbol]
            out.append({
                "symbol": pos.symbol, "positionSide": pos_side(self.dual_side, pos),
                "positionAmt": fmt(pos.amount),
                "entryPrice": fmt(pos.entry), "breakEvenPrice": fmt(pos.entry),
                "markPrice": fmt(mark), "unRealizedProfit": fmt(self.unrealized(pos)),
                "liquidationPrice": fmt(self.liquidation_price(pos)),
                "isolatedMargin": fmt(pos.isolated_wallet + self.unrealized(pos)),
                "notional": fmt(pos.amount * mark), "marginAsset": "USDT",
                "isolatedWallet": fmt(pos.isolated_wallet),
                "initialMargin": fmt(abs(pos.amount) * mark / pos.leverage),
                "maintMargin": fmt(self.maint_margin(pos)),
                "positionInitialMargin": fmt(abs(pos.amount) * mark / pos.leverage),
                "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0",
                "askNotional": "0", "updateTime": now_ms(),
            })
        return out

    def account(self, version: int = 2) -> dict[str, Any]:
        """Account Information V2, or V3 (which leaves canTrade, feeTier, multiAssetsMargin
        and the positions' leverage/entry to GET /fapi/v1/accountConfig and symbolConfig)."""
        upnl = sum((self.unrealized(p) for p in self.positions.values()), Decimal(0))
        maint = sum((self.maint_margin(p) for p in self.positions.values() if p.amount),
                    Decimal(0))
        out: dict[str, Any] = {
            "totalInitialMargin": fmt(self.wallet - self.available()),
            "totalMaintMargin": fmt(maint), "totalWalletBalance": fmt(self.wallet),
            "totalUnrealizedProfit": fmt(upnl), "totalMarginBalance": fmt(self.wallet + upnl),
            "totalPositionInitialMargin": fmt(self.wallet - self.available()),
            "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": fmt(self.available()),
            "totalCrossUnPnl": "0",
            "availableBalance": fmt(self.available()), "maxWithdrawAmount": fmt(self.available()),
            "assets": [{"asset": "USDT", "walletBalance": fmt(self.wallet),
                        "unrealizedProfit": fmt(upnl), "marginBalance": fmt(self.wallet + upnl),
                        "availableBalance": fmt(self.available()),
                        "crossWalletBalance": fmt(self.available()),
                        "maxWithdrawAmount": fmt(self.available()), "updateTime": now_ms()}],
            "positions": [],
        }
        for p in self.positions.values():
            if not p.amount:
                continue
            row = {"symbol": p.symbol, "positionSide": pos_side(self.dual_side, p),
                   "positionAmt": fmt(p.amount), "unrealizedProfit": fmt(self.unrealized(p)),
                   "isolatedMargin": fmt(p.isolated_wallet),
                   "notional": fmt(p.amount * self.marks[p.symbol]),
                   "isolatedWallet": fmt(p.isolated_wallet),
                   "initialMargin": fmt(abs(p.amount) * self.marks[p.symbol] / p.leverage),
                   "maintMargin": fmt(self.maint_margin(p)), "updateTime": now_ms()}
            if version == 2:
                row.update(leverage=str(p.leverage), isolated=p.margin_type == "ISOLATED",
                           entryPrice=fmt(p.entry))
            out["positions"].append(row)
        if version == 2:
            out.update(self.account_config())
            del out["dualSidePosition"], out["tradeGroupId"]
        return out

    def account_config(self) -> dict[str, Any]:
        """Futures Account Configuration (GET /fapi/v1/accountConfig)."""
        return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
                "dualSidePosition": self.dual_side, "updateTime": 0,
                "multiAssetsMargin": self.multi_assets, "tradeGroupId": -1}

    def balance(self) -> list[dict[str, Any]]:
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": fmt(self.wallet),
                 "crossWalletBalance": fmt(self.available()), "crossUnPnl": "0",
                 "availableBalance": fmt(self.available()),
                 "maxWithdrawAmount": fmt(self.available()), "marginAvailable": True,
                 "updateTime": now_ms()}]

    def commission_rate(self, symbol: str) -> dict[str, Any]:
        self.info(symbol)
        return {"symbol": symbol, "makerCommissionRate": fmt(self.maker_rate),
                "takerCommissionRate": fmt(self.taker_rate)}

    def leverage_brackets(self, symbol: str | None) -> Any:
        rows = [{"symbol": s, "brackets": [b.rest() for b in info.brackets]}
                for s, info in self.symbols.items() if not symbol or s == symbol]
        if symbol:
            self.info(symbol)
            return rows[0]  # "or (if symbol sent)" a single object, per the documentation
        return rows

    def user_trades(self, p: dict[str, str]) -> list[dict[str, Any]]:
        """Account Trade List: symbol required; orderId, startTime/endTime (≤ 7 days apart),
        fromId, limit (default 500, max 1000)."""
        symbol = p.get("symbol")
        if not symbol:
            raise ApiError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, "
                           "or malformed.")
        self.info(symbol)
        start, end = p.get("startTime"), p.get("endTime")
        if start and end and int(end) - int(start) > SEVEN_DAYS_MS:
            raise ApiError(-4166, "Search window is restricted to recent 7 days only.")
        limit = min(int(p.get("limit", "500")), 1000)
        rows = [t for t in self.trades if t["symbol"] == symbol]
        if p.get("orderId"):
            rows = [t for t in rows if str(t["orderId"]) == p["orderId"]]
        if start:
            rows = [t for t in rows if t["time"] >= int(start)]
        if end:
            rows = [t for t in rows if t["time"] <= int(end)]
        if p.get("fromId"):
            rows = [t for t in rows if t["id"] >= int(p["fromId"])][:limit]
        return rows[-limit:]

    def income_history(self, p: dict[str, str]) -> list[dict[str, Any]]:
        rows = [r for r in self.income
                if (not p.get("symbol") or r["symbol"] == p["symbol"])
                and (not p.get("incomeType") or r["incomeType"] == p["incomeType"])
                and (not p.get("startTime") or r["time"] >= int(p["startTime"]))
                and (not p.get("endTime") or r["time"] <= int(p["endTime"]))]
        return rows[-min(int(p.get("limit", "100")), 1000):]


def pos_side(dual: bool, pos: PositionState) -> str:
    if not dual:
        return "BOTH"
    return "SHORT" if pos.amount < 0 else "LONG"
