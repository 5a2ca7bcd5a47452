"""`tapedesk close SYMBOL` and `tapedesk stop-to-breakeven SYMBOL`: act on one position of
the running desk through its control socket (as `tapedesk halt` does); the desk itself does
the work (engine.position_actions), so the keys, the palette and these commands agree.

Exit codes: 0 done, 1 no desk running, 3 the desk refused (nothing sent; it says why)
or the exchange refused the new stop (the old one stays; the desk's log says why).
"""

from __future__ import annotations

import argparse
import sys

from tapedesk.engine.paths import MODES  # light, and imported by the CLI anyway

EXIT_NO_DESK = 1
EXIT_REFUSED = 3
#: How long the desk waits for the venue's answer before replying (the order is sent first).
WAIT_S = 10.0

_COMMANDS = (
    ("close", "close", "close one position now, reduce-only at market (the trade's exit "
     "reason is 'manual'); the desk is not halted"),
    ("stop-to-breakeven", "stop_to_breakeven", "move one position's stop to break-even "
     "(entry plus the fees paid and the exit fee), if the price allows"),
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for name, cmd, text in _COMMANDS:
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("symbol", help="the position's symbol, e.g. BTCUSDT")
        p.add_argument("--mode", choices=MODES,
                       help="which desk (needed only when several are running)")
        p.set_defaults(run_command=lambda args, cmd=cmd: run(args, cmd))


def run(args: argparse.Namespace, cmd: str) -> int:
    from tapedesk.engine.control import send_retrying, socket_path
    from tapedesk.engine.desk_commands import _pid_words, _targets

    ddir, targets = _targets(args)
    verb = "close" if cmd == "close" else "move a stop"
    if len(targets) > 1:
        print(f"several desks are running with data dir {ddir} "
              f"({', '.join(targets)}): say which with --mode.", file=sys.stderr)
        return EXIT_REFUSED
    for mode, pid in targets.items():
        who = f"{mode} desk{_pid_words(pid)}"
        try:
            answer = send_retrying(socket_path(ddir, mode), cmd, deadline_s=10.0 if pid >= 0
                                   else 1.0, answer_s=WAIT_S + 20, symbol=args.symbol,
                                   wait=WAIT_S)
        except OSError:
            if pid < 0:
                break  # a stale socket with no desk behind it
            print(f"{who} is running but its control socket did not answer (frozen or "
                  "overloaded?); nothing was sent from here.", file=sys.stderr)
            return EXIT_REFUSED
        if not answer.get("ok"):
            print(f"{who}: {answer.get('error', 'no reason given')}", file=sys.stderr)
            return EXIT_REFUSED
        print(f"{who}: {answer.get('text', '')}")
        if answer.get("outcome"):
            print(f"{who}: {answer['outcome']}")
        return 0 if answer.get("done") else EXIT_REFUSED
    print(f"no desk is running with data dir {ddir}: nothing to {verb}.", file=sys.stderr)
    return EXIT_NO_DESK
