"""``tapedesk trades --id N``: one trade's whole story (engine/trade_story.py).

The ``trades`` parser is built in cli_parser.py; this adds its one option here, through the
commands hook, so that parser stays untouched. ``desk_commands.cmd_trades`` reads it.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    trades = sub.choices.get("trades")
    if trades is not None:
        trades.add_argument("--id", type=int, metavar="N",
                            help="one trade's whole story: signal, risk decision, fills, "
                            "stop/target moves, exit (with --json: as JSON)")
