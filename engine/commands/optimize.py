"""``tapedesk optimize``: search a strategy's parameters (Optuna TPE, pruning, walk-forward).

Parser only (argparse); the search lives in tapedesk.engine.research.optimize_cli, imported
when the command runs (Optuna is imported by nothing else).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from tapedesk.engine.sample_data import data_source

    o = sub.add_parser(
        "optimize",
        help="search a strategy's parameters (walk-forward, many cores or machines)",
        description="Search strategy parameters with Optuna (TPE sampler, pruning of hopeless "
        "trials) on a data file, optionally walk-forward (anchored): each fold searches the "
        "data before its test window and is scored on that window. See docs/research.md.",
    )
    o.add_argument("--strategy", help="the strategy to optimize")
    o.add_argument("--data", type=data_source, help="data file (or sample:1m)")
    o.add_argument("--param", action="append", default=[], metavar="NAME=SPEC",
                   help="a..b (int or float range), a..b:step, a,b,c (choices) or a fixed value")
    o.add_argument("--trials", type=int, help="trials per search (per fold; default 100)")
    o.add_argument("--objective", choices=("sharpe", "net", "calmar", "expectancy"),
                   help="what to maximise (default sharpe)")
    o.add_argument("--walk-forward", type=int, metavar="K",
                   help="K anchored walk-forward folds (default 0: in-sample only)")
    o.add_argument("--seed", type=int, help="sampler seed (reproducible with --jobs 1)")
    o.add_argument("--min-trades", type=int,
                   help="in-sample trades a trial needs to be chosen (default 10)")
    o.add_argument("--no-prune", action="store_true", help="run every trial to the end")
    o.add_argument("--jobs", type=int, metavar="N",
                   help="local worker processes (default: every core; 0: only other workers)")
    o.add_argument("--study", help="study name: an existing one is resumed")
    o.add_argument("--storage", metavar="URL",
                   help="shared storage: postgresql://…, mysql://…, sqlite:///FILE or "
                   "journal:FILE (default: a journal file under the data dir)")
    o.add_argument("--worker", action="store_true",
                   help="only run queued trials of --study (on another machine) and exit")
    o.add_argument("--write-config", action="store_true",
                   help="write the chosen parameters into the config's [[strategies]] entry")
    o.add_argument("--from", dest="start", help="start time, UTC (YYYY-MM-DD[ HH:MM])")
    o.add_argument("--to", dest="end", help="end time, UTC (exclusive)")
    o.add_argument("--symbol", help="symbol for data files that do not name one")
    o.add_argument("--fill-at", choices=("auto", "close", "next-open", "quote"))
    o.add_argument("--fee-bps", type=float, help="fee in basis points, maker and taker")
    o.add_argument("--slippage-bps", type=float, help="adverse slippage in basis points")
    o.add_argument("--funding-bps", type=float, help="assumed funding per 8 h (0 = off)")
    o.add_argument("--initial-balance", help="starting balance in USDT")
    o.add_argument("--plot", action="store_true", help="out-of-sample equity in the terminal")
    o.add_argument("--json", action="store_true", help="print the report as JSON")
    o.set_defaults(run_command=_run)


def _run(args: argparse.Namespace) -> int:
    from tapedesk.engine.research.optimize_cli import cmd_optimize

    return cmd_optimize(args)

