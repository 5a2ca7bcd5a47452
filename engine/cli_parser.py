"""The `tapedesk` argument parser: global options and the built-in subcommands, then the
modules of engine/commands/ and `keys`; plus the one-line hints for renamed flags.

Built for every invocation, `--help` included, so it imports argparse and nothing heavy
(bench/startup.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tapedesk.engine.paths import MODES
from tapedesk.engine.sample_data import data_source


def _version() -> str:
    from tapedesk import __version__

    return __version__


class _VersionAction(argparse.Action):
    """``--version``, reading the installed version only when asked (importlib.metadata)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"tapedesk {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tapedesk",
        allow_abbrev=False,  # --demo must not quietly mean --demo-trading
        description="Terminal trading desk for Binance USDT-M perpetual futures. With no command:"
        " the desk in paper mode on live Binance market data.",
    )
    p.add_argument("--version", action=_VersionAction, help="show the version and exit")
    p.add_argument("--config", type=Path, help="TOML config file (default: XDG config dir)")
    p.add_argument(
        "--data-dir", type=Path, help="journal directory (default: $TAPEDESK_HOME or XDG data dir)"
    )
    p.add_argument("--log-level", default="WARNING", help="Python log level for stderr")
    p.add_argument("--live", action="store_true", help="trade for real (asks to confirm)")
    env = p.add_mutually_exclusive_group()
    env.add_argument("--testnet", action="store_true", help="use Binance's futures testnet")
    env.add_argument(
        "--demo-trading",
        dest="demo_trading",
        action="store_true",
        help="use Binance's demo-trading environment (no real money; not `tapedesk demo`)",
    )
    sub = p.add_subparsers(dest="command")

    d = sub.add_parser(
        "demo", help="offline demo: replays the bundled real sample, looping, paper money"
    )
    d.add_argument("--speed", type=float, default=None, help="replay speed (default 600x)")

    r = sub.add_parser("run", help="run the desk (TUI, or --headless)")
    r.add_argument("--headless", action="store_true", help="no TUI: print explanations")
    r.add_argument(
        "--replay",
        type=data_source,
        help="replay this data file (or sample:1m, sample:stream) instead of live data",
    )
    r.add_argument("--speed", type=float, default=1.0, help="replay speed; 0 = as fast as possible")
    r.add_argument("--loop", action="store_true", help="replay forever")
    r.add_argument("--symbol", help="symbol for data files that do not name one")
    r.add_argument(
        "--no-resume",
        action="store_true",
        help="start the replay from the beginning even if the journal has progress",
    )

    b = sub.add_parser("backtest", help="backtest strategies on a data file")
    b.add_argument(
        "--data",
        type=data_source,
        help="kline CSV/JSON or stream capture; sample:1m or sample:stream for the bundled ones",
    )
    b.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("A.json", "B.json"),
        help="print two saved results side by side (no backtest is run)",
    )
    b.add_argument(
        "--strategy",
        action="append",
        default=None,
        help="strategy name (repeat, or 'all'); default ema_cross",
    )
    b.add_argument(
        "--param",
        action="append",
        default=[],
        help="strategy parameter name=value, or strategy.name=value",
    )
    b.add_argument("--from", dest="start", help="start time, UTC (YYYY-MM-DD[ HH:MM])")
    b.add_argument("--to", dest="end", help="end time, UTC (exclusive)")
    b.add_argument("--symbol", help="symbol for data files that do not name one")
    b.add_argument(
        "--fill-at",
        choices=("auto", "close", "next-open", "quote"),
        default=None,
        help="market fills: quote (bid/ask) when the data has quotes, else next-open "
        "(default auto)",
    )
    b.add_argument("--fee-bps", type=float, help="fee in basis points, maker and taker")
    b.add_argument(
        "--slippage-bps", type=float, help="adverse slippage in basis points (0 = none)"
    )
    b.add_argument(
        "--funding-bps",
        type=float,
        help="assumed funding per 8 h when the data has no mark prices (0 = off; default 1)",
    )
    b.add_argument("--fixed-qty", help="fixed quantity per trade (bypasses risk sizing)")
    b.add_argument("--no-risk", action="store_true", help="research only: no risk rules")
    b.add_argument("--no-margin-check", action="store_true", help="research only: unlimited margin")
    b.add_argument("--initial-balance", help="starting balance in USDT")
    b.add_argument("--json", action="store_true", help="print trades and metrics as JSON")
    b.add_argument(
        "--monte-carlo",
        type=int,
        default=0,
        metavar="N",
        help="resample the trade sequence N times",
    )
    b.add_argument("--plot", action="store_true", help="equity and drawdown in the terminal")
    b.add_argument("--report", type=Path, help="write a report (.html or .md)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--no-cache", action="store_true",
                   help="read the CSV's text, not (nor into) its columnar copy under the data dir")

    st = sub.add_parser("strategies", help="every strategy the desk knows, with its parameters")
    st.add_argument("--json", action="store_true")

    s = sub.add_parser("status", help="desk state from the journal (works while a desk runs)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--mode", choices=MODES, help="which journal (default: most recent)")

    t = sub.add_parser("trades", help="closed trades from the journal")
    fmt = t.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    t.add_argument("--day", help="only trades closed on this UTC day (YYYY-MM-DD)")
    t.add_argument("--mode", choices=MODES, help="which journal (default: most recent)")

    h = sub.add_parser(
        "halt",
        help="emergency stop of the running desk (from another shell)",
        description="Emergency stop: halt entries, cancel orders, close positions, then wait "
        "until the desk's venue reports flat. Exit 0: verified flat; 1: no desk running; "
        "3: not verified flat within --timeout (the desk keeps retrying).",
    )
    h.add_argument("--mode", choices=MODES, help="which desk (default: every running one)")
    h.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the verified result (default 30)",
    )

    res = sub.add_parser("resume", help="resume a halted or paused desk (asks to confirm)")
    res.add_argument("--mode", choices=MODES, help="which desk (default: every running one)")
    res.add_argument("-y", "--yes", action="store_true", help="do not ask")

    pa = sub.add_parser("paths", help="where config, journals, logs and sockets are")
    pa.add_argument("--json", action="store_true")

    rc = sub.add_parser("reconcile", help="list or answer a live desk's startup differences")
    rc.add_argument("key", nargs="?", help="the difference to answer (as listed)")
    rc.add_argument("action", nargs="?", choices=("adopt", "flatten", "ignore"))
    rc.add_argument("--mode", choices=MODES, default="live")

    from tapedesk.engine.commands import register_all

    register_all(sub)
    try:
        from tapedesk.engine.keys_parser import add_keys_subparser

        add_keys_subparser(sub)
    except ImportError:  # pragma: no cover - keys module always ships
        pass
    return p


#: Flags that were renamed: the old spelling gets one line saying what to use instead.
RENAMED_FLAGS = {
    "--demo": "--demo-trading (Binance's demo-trading environment); the offline replay is "
              "`tapedesk demo`",
}


def renamed_flag(argv: list[str]) -> str | None:
    """The one-line hint for a renamed flag in ``argv`` (before any ``--``), else None."""
    for arg in argv:
        if arg == "--":
            return None
        hint = RENAMED_FLAGS.get(arg.split("=", 1)[0])
        if hint:
            return f"{arg.split('=', 1)[0]} is now {hint}"
    return None
