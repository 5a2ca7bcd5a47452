"""What Binance says about the account behind a set of API keys, for `tapedesk keys check`:
``AccountCheck`` (reduced to what the desk needs, with the problems that stop it trading),
the ``verify`` that asks Binance through python-binance, and the words for its refusals.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tapedesk.engine.keys import Credentials


@dataclass(frozen=True)
class AccountCheck:
    """What Binance says about the account behind the keys, reduced to what the desk needs."""

    can_trade: bool
    position_mode: str  # "one-way" or "hedge"
    futures_enabled: bool | None = None  # None: not readable (testnet, demo-trading)
    multi_assets_margin: bool | None = None
    wallet_balance_usdt: Decimal | None = None
    permissions: tuple[str, ...] = ()
    ip_restricted: bool | None = None
    withdrawals_enabled: bool | None = None
    notes: tuple[str, ...] = field(default=())

    def problems(self) -> list[str]:
        """Reasons the desk cannot trade this account as it is: each makes `check` exit 1."""
        found = []
        if not self.can_trade:
            found.append("the account cannot trade (Binance answered canTrade=false)")
        if self.futures_enabled is False:
            found.append(
                "the API key does not have 'Enable Futures' ticked "
                "(Binance → API Management → Edit restrictions)"
            )
        if self.position_mode == "hedge":
            found.append(
                "the account is in Hedge Mode; Tapedesk trades in One-way Mode "
                "(Binance Futures → Preferences → Position Mode → One-way)"
            )
        if self.multi_assets_margin:
            found.append(
                "Multi-Assets margin mode is on; isolated margin needs Single-Asset Mode "
                "(Binance Futures → Preferences → Asset Mode)"
            )
        return found

    def warnings(self) -> list[str]:
        """Things that are allowed but unwise for a trading key."""
        found = []
        if self.withdrawals_enabled:
            found.append("the key can withdraw funds; a trading key should not (untick it)")
        if self.ip_restricted is False:
            found.append("the key is not restricted to trusted IP addresses")
        return found


Verify = Callable[[Credentials], "AccountCheck | Awaitable[AccountCheck]"]


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def account_check_from_binance(
    account: dict[str, Any],
    position_mode: dict[str, Any],
    multi_assets: dict[str, Any] | None = None,
    api_restrictions: dict[str, Any] | None = None,
) -> AccountCheck:
    """Build an AccountCheck from python-binance's raw answers.

    ``account`` is ``futures_account()`` (GET /fapi/v2/account), ``position_mode`` is
    ``futures_get_position_mode()`` (GET /fapi/v1/positionSide/dual), ``multi_assets`` is
    ``futures_get_multi_assets_mode()`` and ``api_restrictions`` is
    ``get_account_api_permissions()`` (GET /sapi/v1/account/apiRestrictions, live only).
    """
    balance = None
    for asset in account.get("assets") or ():
        if isinstance(asset, dict) and asset.get("asset") == "USDT":
            try:
                balance = Decimal(str(asset.get("walletBalance")))
            except (InvalidOperation, ValueError):
                balance = None
    if balance is None and account.get("totalWalletBalance") is not None:
        try:
            balance = Decimal(str(account["totalWalletBalance"]))
        except (InvalidOperation, ValueError):
            balance = None
    restrictions = api_restrictions or {}
    permission_names = {
        "enableReading": "reading",
        "enableFutures": "futures",
        "enableSpotAndMarginTrading": "spot & margin trading",
        "enableMargin": "margin",
        "enableWithdrawals": "withdrawals",
        "enableInternalTransfer": "internal transfer",
        "permitsUniversalTransfer": "universal transfer",
        "enableVanillaOptions": "options",
    }
    permissions = tuple(
        name for key, name in permission_names.items() if _as_bool(restrictions.get(key))
    )
    dual = _as_bool(position_mode.get("dualSidePosition"))
    return AccountCheck(
        can_trade=bool(_as_bool(account.get("canTrade"))),
        position_mode="hedge" if dual else "one-way",
        futures_enabled=_as_bool(restrictions.get("enableFutures")) if api_restrictions else None,
        multi_assets_margin=_as_bool((multi_assets or {}).get("multiAssetsMargin")),
        wallet_balance_usdt=balance,
        permissions=permissions,
        ip_restricted=_as_bool(restrictions.get("ipRestrict")) if api_restrictions else None,
        withdrawals_enabled=(
            _as_bool(restrictions.get("enableWithdrawals")) if api_restrictions else None
        ),
    )


def binance_verifier(
    client_factory: Callable[[Credentials], Any], *, ask_api_restrictions: bool = True
) -> Verify:
    """A ``verify`` for `keys check` that asks Binance through a python-binance AsyncClient.

    ``client_factory(credentials)`` must return an AsyncClient pointed at the right environment
    (constructed without I/O). The API-restrictions call goes to the spot API host
    (``MARGIN_API_URL``), which testnet/demo-trading lack: it is only made for live keys, and a failure
    there is a note, not an error. Pass ``ask_api_restrictions=False`` when the REST URL is
    overridden (a local exchange) so nothing leaves the machine.
    """

    async def verify(credentials: Credentials) -> AccountCheck:
        client = client_factory(credentials)
        try:
            account = await client.futures_account()
            mode = await client.futures_get_position_mode()
            notes = []
            try:
                multi = await client.futures_get_multi_assets_mode()
            except Exception as exc:
                multi = None
                notes.append(f"asset mode not read ({type(exc).__name__})")
            restrictions = None
            if ask_api_restrictions and credentials.environment == "live":
                try:
                    restrictions = await client.get_account_api_permissions()
                except Exception as exc:
                    notes.append(f"API key restrictions not read ({type(exc).__name__})")
            check = account_check_from_binance(account, mode, multi, restrictions)
            return dataclasses.replace(check, notes=tuple(notes))
        finally:
            close = getattr(client, "close_connection", None)
            if close is not None:
                await close()

    return verify


# Binance answers that mean "these keys do not work here", in words a trader can act on.
REFUSALS = {
    -2015: "the key is wrong, not allowed from this IP address, or lacks futures permission",
    -2014: "the API key is malformed (not the key Binance showed you?)",
    -2008: "Binance does not know this API key (deleted, or made for another environment?)",
    -1022: "the signature is wrong: the secret (or Ed25519 private key) does not match the key",
    -1021: "this machine's clock is off from Binance's: sync it (e.g. timedatectl set-ntp true)",
    -4088: "the account has no futures access (open a USDT-M futures account first)",
}


def is_unreachable(exc: BaseException) -> bool:
    """Network trouble (no route, DNS, refused, timeout) as opposed to an answer from Binance."""
    if isinstance(exc, OSError | TimeoutError):  # asyncio.TimeoutError is TimeoutError
        return True
    try:
        import aiohttp

        if isinstance(exc, aiohttp.ClientConnectionError):
            return True
    except ImportError:  # pragma: no cover - aiohttp is a dependency
        pass
    return False


def describe_account(check: AccountCheck) -> list[str]:
    yes_no = {True: "yes", False: "no", None: "unknown"}
    lines = [
        "Account answered: "
        f"can trade: {yes_no[check.can_trade]}; "
        f"futures enabled on the key: {yes_no[check.futures_enabled]}; "
        f"position mode: {check.position_mode}; "
        "multi-assets margin: "
        f"{ {True: 'on', False: 'off', None: 'unknown'}[check.multi_assets_margin] }"
        + (
            f"; wallet balance: {check.wallet_balance_usdt} USDT"
            if check.wallet_balance_usdt is not None
            else ""
        )
        + "."
    ]
    if check.permissions:
        lines.append(f"Key permissions: {', '.join(check.permissions)}.")
    lines.extend(f"Note: {note}." for note in check.notes)
    lines.extend(f"Warning: {warning}." for warning in check.warnings())
    lines.extend(f"Problem: {problem}." for problem in check.problems())
    return lines


def run_verify(verify: Verify, credentials: Credentials) -> AccountCheck:
    result = verify(credentials)
    if inspect.isawaitable(result):
        import asyncio

        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Awaitable[AccountCheck]) -> AccountCheck:
    return await awaitable
