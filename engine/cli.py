"""The `tapedesk` command line (headless parts; the TUI plugs in through ``desk_runner``).

Every failure a user can cause ends in one plain sentence on stderr and exit code 2, never a
traceback: bad config (field path and what is wrong), missing files, unknown strategies.

Start-up: `tapedesk --help`, `status` and `halt` are typed in a hurry, so the cli modules import
only argparse at their top level (issue 10: <= 4x a bare ``python -c pass``, bench/startup.py);
config (pydantic), asyncio, the desk lock and the rest are imported by the commands that use
them, and ``main`` recognises their exceptions without importing their modules.

Here: ``main`` only. The parser is cli_parser, what runs each command cli_dispatch (the
headless desk: headless), how a failure is shown cli_errors.
"""

from __future__ import annotations

import sys

from tapedesk.engine.cli_dispatch import DeskRunner, desk_mode, dispatch
from tapedesk.engine.cli_errors import UserError, report
from tapedesk.engine.cli_parser import build_parser, renamed_flag
from tapedesk.engine.paths import MODES

# Names other modules and tests import from here (desk_commands, keys_cli, engine/commands/,
# plugins raising UserError); the two private ones under their names before the split.
_desk_mode, _dispatch = desk_mode, dispatch

__all__ = ["MODES", "DeskRunner", "UserError", "_desk_mode", "_dispatch", "build_parser", "main",
           "renamed_flag"]


def main(argv: list[str] | None = None, desk_runner: DeskRunner | None = None) -> int:
    hint = renamed_flag(sys.argv[1:] if argv is None else argv)
    if hint:
        print(f"tapedesk: {hint}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code = dispatch(args, desk_runner)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except Exception as exc:
        return report(exc)
    except KeyboardInterrupt:
        return 130
