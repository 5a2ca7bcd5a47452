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

Here: the three actions; the `keys` parser is keys_parser (every command builds it). What
Binance says about the account is keys_account, the prompts keys_prompts, the keyring keys.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from tapedesk.engine.keys import (
    DEFAULT_PROFILE,
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
from tapedesk.engine.keys_account import (
    REFUSALS,
    AccountCheck,
    Verify,
    account_check_from_binance,
    binance_verifier,
    describe_account,
    is_unreachable,
    run_verify,
)
from tapedesk.engine.keys_parser import ACTIONS, add_keys_subparser
from tapedesk.engine.keys_prompts import Cancelled, Prompter, read_private_key

# Imported from here by binance/live.py, engine/commands/notify.py and tests; the prompt
# classes under their names before the split.
_Cancelled, _Prompter = Cancelled, Prompter

__all__ = [
    "ACTIONS",
    "EXIT_NO",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "AccountCheck",
    "Verify",
    "_Cancelled",
    "_Prompter",
    "account_check_from_binance",
    "add_keys_subparser",
    "binance_verifier",
    "environment_from_args",
    "main",
    "run_keys_args",
    "run_keys_command",
]

EXIT_OK = 0
EXIT_NO = 1
EXIT_UNAVAILABLE = 2


def _where(environment: str, profile: str) -> str:
    return f"{environment} keys (profile {profile})"


def _do_set(
    prompter: Prompter, out: TextIO, environment: str, profile: str, backend: Any, yes: bool
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
    private_key = read_private_key(key_path) if key_path else None
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
        check = run_verify(verify, credentials)
    except Exception as exc:
        code = getattr(exc, "code", None)
        text = scrub(str(getattr(exc, "message", None) or exc), secrets)
        if is_unreachable(exc):
            out.write(
                "Account NOT checked: could not reach Binance "
                f"({type(exc).__name__}: {text or 'no detail'}). No network? "
                "The keys are stored; run the check again when online.\n"
            )
            return EXIT_OK
        if isinstance(code, int):
            meaning = REFUSALS.get(code, "see Binance's error code list")
            out.write(f"Binance refused the keys: code {code}: {text}. Meaning: {meaning}.\n")
            return EXIT_NO
        out.write(f"Account check failed: {type(exc).__name__}: {text}\n")
        return EXIT_NO
    for line in describe_account(check):
        out.write(scrub(line, secrets) + "\n")
    return EXIT_NO if check.problems() else EXIT_OK


def _do_delete(
    prompter: Prompter, out: TextIO, environment: str, profile: str, backend: Any, yes: bool
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
    prompter = Prompter(stdin, out)
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
    except (Cancelled, KeyboardInterrupt) as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
        err.write(f"\nCancelled ({reason}); nothing changed.\n")
        return EXIT_NO


def environment_from_args(args: argparse.Namespace) -> str:
    """`keys --testnet` or the top-level `tapedesk --testnet keys ...`, whichever was given:
    which keys are read, and so (``cli_dispatch``) where `keys check` asks about them."""
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
        environment=environment_from_args(args),
        profile=args.keys_profile,
        yes=args.keys_yes,
        verify=verify if verify is not None else getattr(args, "keys_verify", None),
    )


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
