"""`tapedesk notify add | remove | test | telegram-token`: notification services and the phone
bot's token, kept in the OS keyring (the config file names them, never holds them).

A URL or token is read without echo from a terminal, or one line from piped input; it is
never printed, logged, or put in an error message: what is shown is Apprise's name for the
service ("JSON", "Telegram"), never the URL.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_NOT_DELIVERED = 1
EXIT_NO_KEYRING = 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("notify", help="notifications when away (Apprise) and the phone bot's "
                       "token: stored in the OS keyring")
    cmds = p.add_subparsers(dest="notify_command", required=True)
    add = cmds.add_parser("add", help="store a service's Apprise URL under NAME (read without "
                          "echo, or from piped input); then list NAME in [notify] urls")
    add.add_argument("name", help="a name for the service (letters, digits, . _ -)")
    add.add_argument("-y", "--yes", action="store_true", help="replace a stored URL unasked")
    add.set_defaults(run_command=_add)
    rm = cmds.add_parser("remove", help="delete the URL stored under NAME")
    rm.add_argument("name")
    rm.set_defaults(run_command=_remove)
    test = cmds.add_parser("test", help="send one test notification to each service in "
                           "[notify] urls (or to the NAMEs given)")
    test.add_argument("names", nargs="*", metavar="NAME")
    test.set_defaults(run_command=_test)
    tok = cmds.add_parser("telegram-token", help="store the Telegram bot's token (from "
                          "BotFather) for [telegram]; --delete removes it")
    tok.add_argument("--delete", action="store_true")
    tok.set_defaults(run_command=_telegram_token)


def _read_secret(prompt: str) -> str:
    from tapedesk.engine.cli import UserError
    from tapedesk.engine.keys_cli import _Cancelled, _Prompter

    try:
        value = _Prompter(sys.stdin, sys.stdout).secret(prompt)
    except _Cancelled:
        raise UserError("no input: nothing stored") from None
    if not value:
        raise UserError("empty input: nothing stored")
    return value


def _keyring(fn: Any, *args: Any) -> Any:
    """Run a keyring call; a missing or locked keyring becomes its message and exit 2."""
    from tapedesk.engine.keys import KeyringUnavailable

    try:
        return fn(*args)
    except KeyringUnavailable as exc:
        print(f"tapedesk: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_NO_KEYRING) from None


def _name(name: str) -> str:
    from tapedesk.engine.cli import UserError
    from tapedesk.engine.notify_config import NAME_RE

    if not NAME_RE.match(name):
        raise UserError(f"{name[:64]!r} is not a name: use 1–64 letters, digits, '.', '_' or '-'")
    return name


def _add(args: argparse.Namespace) -> int:
    import apprise
    from tapedesk.engine.cli import UserError
    from tapedesk.engine.notify_secrets import guard_logs, load_url, save_url, secret_parts

    name = _name(args.name)
    if _keyring(load_url, name) is not None and not args.yes:
        from tapedesk.engine.keys_cli import _Prompter

        if not _Prompter(sys.stdin, sys.stdout).confirm(f"A URL is stored as {name}. Replace "
                                                        "it?"):
            print(f"{name}: kept as it was.")
            return 1
    url = _read_secret(f"Apprise URL for {name} (not shown as you type): ")
    guard_logs(secret_parts(url))
    ap = apprise.Apprise()
    if not ap.add(url):
        raise UserError(f"{name}: Apprise does not understand that URL (see "
                        "https://github.com/caronc/apprise/wiki for each service's form); "
                        "nothing stored")
    _keyring(save_url, name, url)
    print(f"Stored {name}: a {ap[0].service_name} service, in the keyring (service tapedesk, "
          f"user notify:{name}).\nList it in the config: [notify] urls = [\"{name}\"]; then "
          f"try it: tapedesk notify test {name}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from tapedesk.engine.notify_secrets import delete_url

    name = _name(args.name)
    if _keyring(delete_url, name):
        print(f"Removed {name} from the keyring.")
        return 0
    print(f"No URL is stored as {name}.")
    return 1


def _test(args: argparse.Namespace) -> int:
    import asyncio
    import socket

    from tapedesk.engine.cli import UserError
    from tapedesk.engine.config import load_config
    from tapedesk.engine.notifier import build_services, load_urls
    from tapedesk.engine.notify_config import NotifyConfig
    from tapedesk.engine.notify_secrets import guard_logs, secret_parts

    cfg = load_config(args.config).notify
    names = [_name(n) for n in args.names] or cfg.urls
    if not names:
        raise UserError("no notification service to test: list names in [notify] urls (store "
                        "each with `tapedesk notify add NAME`), or name one here")
    urls = _keyring(load_urls, names)
    guard = guard_logs(p for u in urls.values() for p in secret_parts(u))
    services, problems = build_services(NotifyConfig(urls=names), urls)
    guard_logs((), guard)  # and the loggers importing Apprise created (urllib3.connectionpool)
    for problem in problems:
        print(f"{problem}.", file=sys.stderr)

    async def send_all() -> list[bool]:
        body = (f"Test notification from the desk on {socket.gethostname()}: if you read "
                "this, Tapedesk can reach you.")
        return await asyncio.gather(*(s.send("Tapedesk: test", body, 1) for s in services))

    results = asyncio.run(send_all()) if services else []
    for svc, ok in zip(services, results, strict=True):
        print(f"{svc.name}: {'delivered' if ok else 'NOT delivered (the log line above says why)'}"
              f" ({svc.apprise[0].service_name})")
    return 0 if results and all(results) and not problems else EXIT_NOT_DELIVERED


def _telegram_token(args: argparse.Namespace) -> int:
    from tapedesk.engine.cli import UserError
    from tapedesk.engine.notify_secrets import check_bot_token, delete_bot_token, save_bot_token

    if args.delete:
        if _keyring(delete_bot_token):
            print("Removed the Telegram bot token from the keyring.")
            return 0
        print("No Telegram bot token is stored.")
        return 1
    token = _read_secret("Telegram bot token from BotFather (not shown as you type): ")
    try:
        check_bot_token(token)
    except ValueError as exc:
        raise UserError(f"{exc}; nothing stored") from None
    _keyring(save_bot_token, token)
    print("Stored the Telegram bot token in the keyring (service tapedesk, user telegram:bot). "
          "Turn the bot on with [telegram] enabled = true and allowed_chat_ids = [your chat id].")
    return 0
