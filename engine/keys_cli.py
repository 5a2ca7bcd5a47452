"""`tapedesk keys set|check|delete`: put Binance API keys in the OS keyring, see that they work.

Exit codes (the same for every action):
    0  done: keys stored / present (and the account, if it was asked, raised no problem) / deleted
    1  the answer is "no": input refused, no keys stored, the account refused the keys or
       cannot trade as the desk needs, the user declined, nothing to delete
    2  could not even ask: no usable keyring (the message says what to do) or bad usage

Secrets are read without echo and never printed: output shows the key masked (``abcd…wxyz``),
and any text from a backend or from Binance is scrubbed of the key and secret before it is shown.
A `check` that cannot reach Binance says so plainly and still exits 0 when the keys are present:
presence is what it can vouch for; the line says the account was NOT checked.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import inspect
import os
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from tapedesk.engine.keys import (
    DEFAULT_PROFILE,
    ENVIRONMENTS,
    Credentials,
    InvalidCredentials,
    KeyringUnavailable,
    backend_name,
    check_environment,
    check_profile,
    delete_credentials,
    load_credentials,
    resolve_backend,
    save_credentials,
    scrub,
)

EXIT_OK = 0
EXIT_NO = 1
EXIT_UNAVAILABLE = 2
ACTIONS = ("set", "check", "delete")


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
_REFUSALS = {
    -2015: "the key is wrong, not allowed from this IP address, or lacks futures permission",
    -2014: "the API key is malformed (not the key Binance showed you?)",
    -2008: "Binance does not know this API key (deleted, or made for another environment?)",
    -1022: "the signature is wrong: the secret (or Ed25519 private key) does not match the key",
    -1021: "this machine's clock is off from Binance's: sync it (e.g. timedatectl set-ntp true)",
    -4088: "the account has no futures access (open a USDT-M futures account first)",
}


def _is_unreachable(exc: BaseException) -> bool:
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


class _Cancelled(Exception):
    """The user (or the end of piped input) stopped the prompts."""


class _Prompter:
    """Reads answers from a terminal without echo, or line by line from piped input.

    Piped input lets a provisioning script feed key, secret and an empty line to `keys set`.
    """

    def __init__(self, stdin: TextIO, out: TextIO) -> None:
        self.stdin = stdin
        self.out = out
        try:
            self.interactive = stdin.isatty()
        except (AttributeError, ValueError):
            self.interactive = False

    def _line(self, prompt: str) -> str:
        self.out.write(prompt)
        self.out.flush()
        line = self.stdin.readline()
        if line == "":
            raise _Cancelled("input ended")
        if not self.interactive:
            self.out.write("\n")
        return line.strip()

    def secret(self, prompt: str) -> str:
        if self.interactive:
            try:
                return getpass.getpass(prompt).strip()
            except EOFError:
                raise _Cancelled("input ended") from None
        return self._line(prompt)

    def plain(self, prompt: str) -> str:
        return self._line(prompt)

    def confirm(self, prompt: str) -> bool:
        return self.plain(f"{prompt} [y/N] ").lower() in ("y", "yes")


def _where(environment: str, profile: str) -> str:
    return f"{environment} keys (profile {profile})"


def _shown_path(path: str) -> str:
    """The path as typed, only if it plainly is one: text typed at a prompt may be a secret
    pasted one prompt too late, and an error message must never repeat that."""
    if os.sep in path or path.startswith("~") or re.search(r"\.(pem|key|txt|der)$", path):
        return path
    return "the file named at the prompt (name not repeated: it does not look like a path)"


def _read_private_key(path: str) -> str:
    expanded = os.path.expanduser(path)
    try:
        with open(expanded, encoding="ascii") as handle:
            return handle.read(10_000)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
        raise InvalidCredentials(
            "private_key", f"cannot read {_shown_path(path)}: {reason}"
        ) from None


def _do_set(
    prompter: _Prompter, out: TextIO, environment: str, profile: str, backend: Any, yes: bool
) -> int:
    where = _where(environment, profile)
    existing = load_credentials(profile, environment=environment, backend=backend)
    if (
        existing is not None
        and not yes
        and not prompter.confirm(f"{where} already stored (key {existing.masked_key}). Replace?")
    ):
        out.write("Left unchanged.\n")
        return EXIT_NO
    out.write(f"Storing {where}. Paste each value and press Enter; nothing is shown as you type.\n")
    api_key = prompter.secret("API key: ")
    api_secret = prompter.secret(
        "API secret (HMAC; leave empty if the key uses an Ed25519 private key): "
    )
    key_path = prompter.plain("Ed25519 private key file (optional; Enter to skip): ")
    private_key = _read_private_key(key_path) if key_path else None
    credentials = Credentials(
        api_key=api_key,
        api_secret=api_secret or None,
        private_key_pem=private_key,
        environment=environment,
        profile=profile,
    )
    kr = resolve_backend(backend)
    save_credentials(credentials, backend=kr)
    out.write(
        f"Stored {where}: key {credentials.masked_key}, signed with "
        f"{credentials.signing.upper()}, in {backend_name(kr)} "
        f"(service tapedesk, user {environment}:{profile}).\n"
    )
    if key_path:
        out.write(
            f"The private key is now in the keyring; you may delete {key_path} "
            "(keep a backup somewhere safe).\n"
        )
    out.write(f"Check them with: tapedesk keys check{_env_flag(environment)}\n")
    return EXIT_OK


def _env_flag(environment: str) -> str:
    return "" if environment == "live" else f" --{environment}"


def _describe_account(check: AccountCheck) -> list[str]:
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


def _run_verify(verify: Verify, credentials: Credentials) -> AccountCheck:
    result = verify(credentials)
    if inspect.isawaitable(result):
        import asyncio

        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Awaitable[AccountCheck]) -> AccountCheck:
    return await awaitable


def _do_check(
    out: TextIO, environment: str, profile: str, backend: Any, verify: Verify | None
) -> int:
    where = _where(environment, profile)
    kr = resolve_backend(backend)
    credentials = load_credentials(profile, environment=environment, backend=kr)
    if credentials is None:
        out.write(
            f"{where}: missing (nothing stored in {backend_name(kr)}). "
            f"Store them with: tapedesk keys set{_env_flag(environment)}\n"
        )
        return EXIT_NO
    out.write(
        f"{where}: present: key {credentials.masked_key}, signed with "
        f"{credentials.signing.upper()}, in {backend_name(kr)}.\n"
    )
    if verify is None:
        out.write("Account not checked: no Binance connection is configured for this command.\n")
        return EXIT_OK
    secrets = credentials.secrets()
    try:
        check = _run_verify(verify, credentials)
    except Exception as exc:
        code = getattr(exc, "code", None)
        text = scrub(str(getattr(exc, "message", None) or exc), secrets)
        if _is_unreachable(exc):
            out.write(
                "Account NOT checked: could not reach Binance "
                f"({type(exc).__name__}: {text or 'no detail'}). No network? "
                "The keys are stored; run the check again when online.\n"
            )
            return EXIT_OK
        if isinstance(code, int):
            meaning = _REFUSALS.get(code, "see Binance's error code list")
            out.write(f"Binance refused the keys: code {code}: {text}. Meaning: {meaning}.\n")
            return EXIT_NO
        out.write(f"Account check failed: {type(exc).__name__}: {text}\n")
        return EXIT_NO
    for line in _describe_account(check):
        out.write(scrub(line, secrets) + "\n")
    return EXIT_NO if check.problems() else EXIT_OK


def _do_delete(
    prompter: _Prompter, out: TextIO, environment: str, profile: str, backend: Any, yes: bool
) -> int:
    where = _where(environment, profile)
    kr = resolve_backend(backend)
    existing = load_credentials(profile, environment=environment, backend=kr)
    if existing is None:
        out.write(f"{where}: none stored in {backend_name(kr)}; nothing to delete.\n")
        return EXIT_NO
    if not yes and not prompter.confirm(
        f"Delete {where} (key {existing.masked_key})? Binance shows a secret only once, "
        "so you would need to create a new API key to store it again."
    ):
        out.write("Left unchanged.\n")
        return EXIT_NO
    deleted = delete_credentials(profile, environment=environment, backend=kr)
    out.write(f"Deleted {where} (key {existing.masked_key}).\n" if deleted else "Already gone.\n")
    return EXIT_OK


def run_keys_command(
    action: str,
    *,
    environment: str = "live",
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    profile: str = DEFAULT_PROFILE,
    verify: Verify | None = None,
    backend: Any = None,
    yes: bool = False,
) -> int:
    """Run `tapedesk keys <action>`; returns the exit code (see the module docstring).

    ``verify(credentials)`` (sync or async) returns an AccountCheck or raises: a
    python-binance ``BinanceAPIException`` reads as a refusal, network errors as "no network".
    ``backend`` is a keyring backend to use instead of keyring's choice (tests use it).
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else (out if out is not sys.stdout else sys.stderr)
    stdin = stdin if stdin is not None else sys.stdin
    if action not in ACTIONS:
        err.write(f"tapedesk keys: unknown action {action!r}; use one of {', '.join(ACTIONS)}\n")
        return EXIT_UNAVAILABLE
    try:
        check_environment(environment)
        check_profile(profile)
    except InvalidCredentials as exc:
        err.write(f"tapedesk keys: {exc}\n")
        return EXIT_UNAVAILABLE
    prompter = _Prompter(stdin, out)
    try:
        if action == "set":
            return _do_set(prompter, out, environment, profile, backend, yes)
        if action == "check":
            return _do_check(out, environment, profile, backend, verify)
        return _do_delete(prompter, out, environment, profile, backend, yes)
    except KeyringUnavailable as exc:
        err.write(f"{exc}\n")
        return EXIT_UNAVAILABLE
    except InvalidCredentials as exc:
        err.write(f"Not stored: {exc}.\n" if action == "set" else f"{exc}.\n")
        return EXIT_NO
    except (_Cancelled, KeyboardInterrupt) as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
        err.write(f"\nCancelled ({reason}); nothing changed.\n")
        return EXIT_NO


def _environment_from_args(args: argparse.Namespace) -> str:
    """`keys --testnet` or the top-level `tapedesk --testnet keys ...`, whichever was given."""
    chosen = getattr(args, "keys_environment", None)
    if chosen:
        return chosen
    if getattr(args, "testnet", False):
        return "testnet"
    if getattr(args, "demo_trading", False):
        return "demo-trading"
    return "live"


def run_keys_args(args: argparse.Namespace, verify: Verify | None = None) -> int:
    """Dispatch parsed `tapedesk keys ...` arguments to run_keys_command."""
    return run_keys_command(
        args.keys_action,
        environment=_environment_from_args(args),
        profile=args.keys_profile,
        yes=args.keys_yes,
        verify=verify if verify is not None else getattr(args, "keys_verify", None),
    )


_EPILOG = """\
actions:
  set     prompt (no echo) for API key, secret and optional Ed25519 private key file; store them
  check   say whether keys are stored (key shown masked) and, online, what the account answers
  delete  remove the stored keys

exit codes:
  0  done (stored / present and no account problem / deleted)
  1  no: input refused, keys missing, Binance refused them or the account needs a setting
     changed, declined, nothing to delete
  2  no usable keyring here (the message lists the fixes) or bad usage

Keys live in the OS keyring under service "tapedesk", user "<environment>:<profile>"."""


def add_keys_subparser(subparsers: Any, *, verify: Verify | None = None) -> argparse.ArgumentParser:
    """Add `keys` to an argparse subparsers object; the parsed args carry ``handler``:
    ``args.handler(args) -> int`` runs it (``args.keys_verify`` may be set before calling)."""
    parser = subparsers.add_parser(
        "keys",
        help="store, check or delete Binance API keys in the OS keyring",
        description="Binance API keys in the OS keyring (service tapedesk).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # the old --demo must not abbreviate --demo-trading
    )
    parser.add_argument("keys_action", choices=ACTIONS, metavar="{set,check,delete}")
    where = parser.add_mutually_exclusive_group()
    for env in ENVIRONMENTS:
        where.add_argument(
            f"--{env}",
            dest="keys_environment",
            action="store_const",
            const=env,
            help=f"keys for Binance {env}" + (" (the default)" if env == "live" else ""),
        )
    parser.add_argument(
        "--profile",
        dest="keys_profile",
        default=DEFAULT_PROFILE,
        metavar="NAME",
        help="name of a key set, for several accounts (default: %(default)s)",
    )
    parser.add_argument(
        "-y",
        "--yes",
        dest="keys_yes",
        action="store_true",
        help="replace or delete without asking",
    )
    parser.set_defaults(handler=run_keys_args, keys_environment=None, keys_verify=verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.keys_cli keys set|check|delete`: the same command, no desk CLI needed."""
    from tapedesk.engine.cli import renamed_flag

    hint = renamed_flag(sys.argv[1:] if argv is None else argv)
    if hint:
        print(f"tapedesk: {hint}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="tapedesk", allow_abbrev=False)
    add_keys_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
