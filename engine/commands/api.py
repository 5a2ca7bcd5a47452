"""`tapedesk serve` (the headless desk with the local API on) and `tapedesk api token`.

``serve`` takes the flags of ``run --headless`` (it *is* that desk: same journal, lock,
control socket and log lines) plus ``--host``/``--port``; the config's ``[api]`` section
gives the rest. ``api token`` shows the bearer token (creating it on first use), or replaces
it with ``--rotate``; the token goes to stdout alone so ``$(tapedesk api token)`` works.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from tapedesk.engine.sample_data import data_source

    s = sub.add_parser(
        "serve",
        help="the headless desk with the local API on (scripts, dashboards)",
        description="Run the desk headless, as `run --headless`, with the local HTTP API "
        "and /ws/live websocket on (whatever [api] enabled says). Every request needs the "
        "bearer token that `tapedesk api token` shows.",
    )
    s.add_argument("--replay", type=data_source,
                   help="replay this data file (or sample:1m, sample:stream) instead of live data")
    s.add_argument("--speed", type=float, default=1.0,
                   help="replay speed; 0 = as fast as possible")
    s.add_argument("--loop", action="store_true", help="replay forever")
    s.add_argument("--symbol", help="symbol for data files that do not name one")
    s.add_argument("--no-resume", action="store_true",
                   help="start the replay from the beginning even if the journal has progress")
    s.add_argument("--host", help="address to listen on (default: [api] host, 127.0.0.1)")
    s.add_argument("--port", type=int,
                   help="port to listen on (default: [api] port, 8765; 0 = any free port)")
    s.set_defaults(run_command=cmd_serve)

    a = sub.add_parser("api", help="the local API's bearer token (in the OS keyring)")
    asub = a.add_subparsers(dest="api_action", required=True)
    t = asub.add_parser(
        "token",
        help="show the API token (created on first use); --rotate replaces it",
        description="Print the local API's bearer token, creating it in the OS keyring if "
        "there is none. --rotate replaces it: a running desk accepts only the new one within "
        "5 seconds. --delete removes it: the API then refuses every request.",
    )
    act = t.add_mutually_exclusive_group()
    act.add_argument("--rotate", action="store_true", help="replace the token with a new one")
    act.add_argument("--delete", action="store_true", help="remove the token from the keyring")
    t.set_defaults(run_command=cmd_token)


def cmd_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from tapedesk.engine import api, cli
    from tapedesk.engine.config import format_validation_error, load_config

    cfg = load_config(args.config).api
    update = {"enabled": True}
    for name in ("host", "port"):
        if getattr(args, name) is not None:
            update[name] = getattr(args, name)
    try:
        api.FORCED = type(cfg).model_validate({**cfg.model_dump(), **update})
    except ValidationError as exc:
        raise cli.UserError(format_validation_error(exc, "serve").replace("serve: ", "--", 1)
                            .splitlines()[0]) from None
    _preflight(api.FORCED)
    args.command, args.headless, args.run_command = "run", True, None
    return cli._dispatch(args, None)


def _preflight(cfg: object) -> None:
    """A desk started to serve the API must not run without it: the token and the address
    are checked first (a desk with ``[api] enabled`` only says, and trades on)."""
    import socket

    from tapedesk.engine.api.token import ensure_token
    from tapedesk.engine.cli import UserError
    from tapedesk.engine.keys import KeyringUnavailable

    try:
        ensure_token()
    except KeyringUnavailable as exc:
        raise UserError(f"the API keeps its token in the OS keyring: {exc.reason} "
                        "(`tapedesk api token` says what to do)") from None
    host, port = cfg.host, cfg.port  # type: ignore[attr-defined]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (--host, "
                        "--port or [api] in the config)") from None


def cmd_token(args: argparse.Namespace) -> int:
    from tapedesk.engine.api.token import delete_token, ensure_token, new_token
    from tapedesk.engine.keys import KeyringUnavailable

    try:
        if args.delete:
            gone = delete_token()
            print("API token deleted: the local API refuses every request until "
                  "`tapedesk api token` makes a new one." if gone else "no API token stored.",
                  file=sys.stderr)
            return 0 if gone else 1
        if args.rotate:
            token, note = new_token(), ("new API token stored in the keyring; a running desk "
                                        "stops accepting the old one within 5 s.")
        else:
            token, created = ensure_token()
            note = "new API token stored in the keyring." if created else ""
    except KeyringUnavailable as exc:
        print(f"tapedesk: {exc}", file=sys.stderr)
        return 2
    if note:
        print(note, file=sys.stderr)
    print(token.reveal())
    return 0

