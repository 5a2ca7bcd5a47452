"""The `keys` subparser, built by every `tapedesk` command (``--help`` lists it): argparse and
the keyring module's names only, so a command that never touches keys does not import the
keyring, account and prompt code (keys_cli, imported when `keys` runs)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tapedesk.engine.keys import DEFAULT_PROFILE, ENVIRONMENTS

if TYPE_CHECKING:
    from tapedesk.engine.keys_account import Verify

ACTIONS = ("set", "check", "delete")


def _run(args: argparse.Namespace) -> int:
    from tapedesk.engine.keys_cli import run_keys_args

    return run_keys_args(args)


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
    parser.set_defaults(handler=_run, keys_environment=None, keys_verify=verify)
    return parser
