"""Going live in two steps: look at the account (read-only), then, once the user typed the
symbols, set it up. Nothing reaches the account before every check below has passed.

Step 1, ``check_account`` (GET only): server time, exchangeInfo (every symbol listed and
TRADING), the account (keys valid, ``canTrade``), position mode (``/fapi/v1/positionSide/dual``:
one-way required), Multi-Assets mode (``/fapi/v1/multiAssetsMargin``: off required — Binance
refuses isolated margin under it with -4168), each symbol's margin type and leverage
(``/fapi/v1/symbolConfig``) and open positions.

Step 2, ``apply_account_setup`` (after confirmation): ISOLATED margin and the desk's leverage
on each *flat* symbol that differs. A symbol with an open position keeps its leverage (changing
it would change that position's margin); it must already be isolated (checked in step 1). If a
change fails, the ones already made are undone, and whatever could not be undone is named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
from binance.exceptions import BinanceAPIException, BinanceRequestException
from tapedesk.engine.binance.endpoints import Endpoints
from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.binance.rest import RestGate
from tapedesk.engine.symbols import SymbolSpec

PREFERENCES = "Binance → Futures → Preferences"


class LiveAborted(Exception):
    """The user did not confirm, or the account cannot trade as the desk needs. The text is
    one line for the terminal; it says whether anything was sent to the account."""


@dataclass
class SymbolState:
    """One symbol's account settings as found, and what the desk will trade it with."""

    symbol: str
    margin_type: str | None  # ISOLATED / CROSSED; None when Binance did not say
    leverage: int | None
    position: Decimal = Decimal(0)
    target_leverage: int = 0

    @property
    def keeps_position_leverage(self) -> bool:
        return bool(self.position)


@dataclass
class AccountCheck:
    """What step 1 found; ``summary()`` is what the user reads before typing the symbols."""

    endpoints: Endpoints
    masked_key: str
    max_leverage: int
    wallet: Decimal
    available: Decimal
    specs: dict[str, SymbolSpec]
    states: dict[str, SymbolState]
    exchange_info: dict[str, Any]
    other_positions: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        where = {"production": "LIVE: REAL MONEY on Binance USDT-M",
                 "testnet": "Binance futures TESTNET (no real money)",
                 "demo": "Binance DEMO trading (no real money)"}.get(
                     self.endpoints.name, f"custom endpoint {self.endpoints.rest_url}")
        lines = [where, f"API key {self.masked_key}",
                 f"wallet {self.wallet:,.2f} USDT, available {self.available:,.2f} USDT",
                 "position mode one-way, Multi-Assets mode off"]
        for st in self.states.values():
            if st.keeps_position_leverage:
                lines.append(f"{st.symbol}: open position {st.position}, ISOLATED, leverage "
                             f"{st.leverage}x kept as it is")
            else:
                lines.append(f"{st.symbol}: will set ISOLATED margin (now "
                             f"{st.margin_type or 'unknown'}) and leverage {st.target_leverage}x "
                             f"(now {st.leverage or 'unknown'}x)")
        if self.other_positions:
            lines.append("positions the desk does not trade: " + ", ".join(self.other_positions))
        return lines


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


async def check_account(gate: RestGate, endpoints: Endpoints, symbols: list[str],
                        max_leverage: int, masked_key: str = "") -> AccountCheck:
    """Step 1: read-only. Raises ``LiveAborted`` (one line, nothing sent) on any problem."""
    try:
        return await _check(gate, endpoints, [s.upper() for s in symbols], max_leverage,
                            masked_key)
    except VenueError as exc:
        raise LiveAborted(f"{exc.text} (checking the account; nothing was sent to it)") from None
    except (BinanceAPIException, BinanceRequestException) as exc:  # sync_time is not gated
        raise LiveAborted(f"Binance refused the time request ({exc}): nothing was sent to "
                          "the account") from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise LiveAborted(f"cannot reach Binance at {endpoints.rest_url} "
                          f"({type(exc).__name__}): nothing was sent to the account") from None


async def _check(gate: RestGate, endpoints: Endpoints, symbols: list[str], max_leverage: int,
                 masked_key: str) -> AccountCheck:
    await gate.sync_time()
    info = await gate.call("futures_exchange_info")
    gate.limits.load_from_exchange_info(info)
    listed = {s["symbol"]: s for s in info.get("symbols", [])}
    specs: dict[str, SymbolSpec] = {}
    for sym in symbols:
        row = listed.get(sym)
        if row is None:
            raise LiveAborted(f"{sym} is not listed on {endpoints.name} USDT-M futures: check "
                              "`symbols` in the config (nothing was sent to the account)")
        if row.get("status", "TRADING") != "TRADING":
            raise LiveAborted(f"{sym} is not trading on Binance (status {row.get('status')}): "
                              "nothing was sent to the account")
        specs[sym] = SymbolSpec.from_exchange_info(row)
    account = await gate.call("futures_account", weight=5)
    if not account.get("canTrade"):
        raise LiveAborted("this API key cannot trade futures (canTrade is false): enable "
                          "futures trading for the key on Binance (nothing was sent)")
    mode = await gate.call("futures_get_position_mode", weight=30)
    if _is_true(mode.get("dualSidePosition")):
        raise LiveAborted("the account is in Hedge Mode; Tapedesk trades One-way mode only: "
                          f"switch Position Mode to One-way in {PREFERENCES} (nothing was sent)")
    multi = await gate.call("futures_get_multi_assets_mode", weight=30)
    if _is_true(multi.get("multiAssetsMargin")):
        raise LiveAborted("the account is in Multi-Assets Mode, where Binance allows no isolated "
                          f"margin: switch to Single-Asset Mode in {PREFERENCES} "
                          "(nothing was sent)")
    held = {p["symbol"]: Decimal(str(p.get("positionAmt", "0")))
            for p in account.get("positions", []) if Decimal(str(p.get("positionAmt", "0")))}
    config = await _symbol_config(gate)
    states: dict[str, SymbolState] = {}
    for sym in symbols:
        row = config.get(sym) or next(
            (p for p in account.get("positions", []) if p.get("symbol") == sym), {})
        margin = row.get("marginType") or (
            None if "isolated" not in row else "ISOLATED" if _is_true(row["isolated"])
            else "CROSSED")
        lev = int(row["leverage"]) if row.get("leverage") not in (None, "") else None
        st = SymbolState(sym, margin, lev, held.get(sym, Decimal(0)), max_leverage)
        if st.position:
            if margin == "CROSSED":
                raise LiveAborted(f"{sym} has an open position in CROSSED margin; Tapedesk "
                                  "trades isolated margin only: close it first (nothing was "
                                  "sent)")
            st.target_leverage = lev or max_leverage
        states[sym] = st
    return AccountCheck(
        endpoints=endpoints, masked_key=masked_key, max_leverage=max_leverage,
        wallet=Decimal(str(account.get("totalWalletBalance", "0"))),
        available=Decimal(str(account.get("availableBalance", "0"))),
        specs=specs, states=states, exchange_info=info,
        other_positions=[f"{s} {q}" for s, q in held.items() if s not in states])


async def _symbol_config(gate: RestGate) -> dict[str, dict[str, Any]]:
    """Margin type and leverage of every symbol (``GET /fapi/v1/symbolConfig``); empty when
    the endpoint is not there (the account's position rows are used instead)."""
    try:
        rows = await gate.call("futures_symbol_config", weight=5)
    except VenueError as exc:
        if exc.status in (400, 404) or exc.code == -1000:
            return {}
        raise
    return {r["symbol"]: r for r in rows if isinstance(r, dict) and "symbol" in r}


@dataclass
class _Change:
    symbol: str
    what: str  # "margin" | "leverage"
    before: Any
    after: Any

    def words(self) -> str:
        if self.what == "margin":
            return f"{self.symbol} margin {self.before or 'unknown'} → {self.after}"
        return f"{self.symbol} leverage {self.before or 'unknown'}x → {self.after}x"


async def apply_account_setup(gate: RestGate, check: AccountCheck) -> list[str]:
    """Step 2: the changes, in words (also for the log). On failure undoes what it changed
    and raises ``LiveAborted`` saying what is left changed, if anything."""
    done: list[_Change] = []
    try:
        for st in check.states.values():
            if st.keeps_position_leverage:
                continue
            if st.margin_type != "ISOLATED":
                try:
                    await gate.call("futures_change_margin_type", symbol=st.symbol,
                                    marginType="ISOLATED")
                    done.append(_Change(st.symbol, "margin", st.margin_type, "ISOLATED"))
                except VenueError as exc:
                    if exc.code != -4046:  # -4046: already isolated
                        raise
                st.margin_type = "ISOLATED"
            if st.leverage != st.target_leverage:
                res = await gate.call("futures_change_leverage", symbol=st.symbol,
                                      leverage=st.target_leverage)
                done.append(_Change(st.symbol, "leverage", st.leverage, st.target_leverage))
                st.leverage = int(res.get("leverage", st.target_leverage))
            else:
                st.leverage = st.target_leverage
    except (VenueError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        why = exc.text if isinstance(exc, VenueError) else type(exc).__name__
        left = await _undo(gate, done)
        if left:
            raise LiveAborted(f"setting up the account failed ({why}); still changed on the "
                              f"account: {'; '.join(c.words() for c in left)}") from None
        undone = f" (undone: {'; '.join(c.words() for c in done)})" if done else ""
        raise LiveAborted(f"setting up the account failed ({why}); the account is as it was "
                          f"found{undone}") from None
    return [c.words() for c in done]


async def _undo(gate: RestGate, done: list[_Change]) -> list[_Change]:
    """Reverse the changes, newest first; returns the ones that could not be reversed."""
    left: list[_Change] = []
    for ch in reversed(done):
        try:
            if ch.before is None:
                raise VenueError("its previous value is unknown")
            if ch.what == "leverage":
                await gate.call("futures_change_leverage", symbol=ch.symbol, leverage=ch.before)
            else:
                await gate.call("futures_change_margin_type", symbol=ch.symbol,
                                marginType=ch.before)
        except (VenueError, aiohttp.ClientError, OSError, TimeoutError):
            left.append(ch)
    return list(reversed(left))
