"""The `tapedesk` command line (headless parts; the TUI plugs in through ``desk_runner``).

Every failure a user can cause ends in one plain sentence on stderr and exit code 2, never a
traceback: bad config (field path and what is wrong), missing files, unknown strategies.

Start-up: `tapedesk --help`, `status` and `halt` are typed in a hurry, so this module imports
only argparse at its top level (issue 10: <= 4x a bare ``python -c pass``, bench/startup.py);
config (pydantic), asyncio, the desk lock and the rest are imported by the commands that use
them, and ``main`` recognises their exceptions without importing their modules.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tapedesk.engine.paths import MODES
from tapedesk.engine.sample_data import data_source

if TYPE_CHECKING:
    from tapedesk.engine.config import DeskConfig

DeskRunner = Callable[..., int]


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


class UserError(Exception):
    """Something the user can fix; printed as one line."""


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
        from tapedesk.engine.keys_cli import add_keys_subparser

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
        code = _dispatch(args, desk_runner)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except Exception as exc:
        if _raised(exc, "tapedesk.engine.config", "ConfigError"):
            for line in str(exc).splitlines():  # one line per problem, each naming its field
                print(f"tapedesk: {line}", file=sys.stderr)
            return 2
        if isinstance(exc, UserError | FileNotFoundError) or any(
                _raised(exc, m, n) for m, n in _USER_ERRORS):
            print(f"tapedesk: {_one_line(exc)}", file=sys.stderr)
            return 2
        return _unexpected(exc)
    except KeyboardInterrupt:
        return 130


#: (module, class) of the errors a user can cause and fix: one line, exit 2. Matched only if
#: the module was imported (an error cannot come from a module that never ran), so ``main``
#: imports none of them.
_USER_ERRORS = (
    ("tapedesk.engine.feeds.checks", "DataError"),
    ("tapedesk.engine.strategy", "StrategyError"),
    ("tapedesk.engine.paths", "DataDirError"),
    ("tapedesk.engine.desk_lock", "DeskRunning"),
    ("tapedesk.engine.desk_lock", "DeskLockError"),
    ("tapedesk.engine.journal_health", "JournalError"),
)


def _raised(exc: BaseException, module: str, name: str) -> bool:
    mod = sys.modules.get(module)
    return mod is not None and isinstance(exc, getattr(mod, name))


def _unexpected(exc: Exception) -> int:
    if isinstance(exc, BrokenPipeError):
        return _closed_pipe()
    if isinstance(exc, OSError):  # a path the user gave that cannot be used, a full disk, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"tapedesk: {where}{exc.strerror or _one_line(exc)}", file=sys.stderr)
        return 1
    import logging  # the last line of defence: never a traceback for the user

    logging.getLogger("tapedesk").debug("unexpected error", exc_info=True)
    print(
        f"tapedesk: unexpected error: {type(exc).__name__}: {_one_line(exc)} "
        "(a bug; --log-level DEBUG shows where)",
        file=sys.stderr,
    )
    return 1


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else type(exc).__name__
    return f"{lines[0]} (+{len(lines) - 1} more: {'; '.join(lines[1:])})"


def _check_options(args: argparse.Namespace) -> None:
    """Options every data command shares, checked here so an error is one line (argparse
    takes 'nan' and '-5' as floats): ``--speed`` finite and >= 0, ``--symbol`` a symbol."""
    import math

    speed = getattr(args, "speed", None)
    if speed is not None and not (math.isfinite(speed) and speed >= 0):
        raise UserError(f"--speed must be a number >= 0 (0 = as fast as possible), got {speed}")
    symbol = getattr(args, "symbol", None)
    if symbol is not None and not (2 <= len(symbol) <= 40 and symbol.isalnum()):
        raise UserError(f"--symbol {symbol[:40]!r} is not a symbol (letters and digits, "
                        "e.g. BTCUSDT)")


def _closed_pipe() -> int:
    """The reader went away (``tapedesk trades --csv | head -1``): stop quietly.

    stdout is pointed at /dev/null so the interpreter's final flush cannot fail again and
    print "Exception ignored ... BrokenPipeError". 141 is what a shell reports for SIGPIPE.
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


def _desk_mode(args: argparse.Namespace, config: DeskConfig) -> str:
    """The journal a desk command will write: the lock is per data dir and this name."""
    if args.command == "demo":
        return "demo"
    if args.command == "run" and args.replay is not None:
        return "paper"
    if not args.live:
        return "paper"
    from tapedesk.engine.assembly import desk_name
    from tapedesk.engine.binance.endpoints import resolve

    b = config.binance
    ep = resolve(testnet=args.testnet or b.testnet,
                 demo_trading=args.demo_trading or b.demo_trading,
                 rest_url=b.rest_url, ws_url=b.ws_url)
    return desk_name("live", ep.name)


def _dispatch(args: argparse.Namespace, desk_runner: DeskRunner | None) -> int:
    cmd = args.command
    run_command = getattr(args, "run_command", None)
    if run_command is not None:  # a command in engine/commands/
        return int(run_command(args))
    if cmd == "keys":
        if args.keys_action == "check" and getattr(args, "keys_verify", None) is None:
            from tapedesk.engine.binance.live import endpoints_for, keys_verifier
            from tapedesk.engine.config import load_config

            cfg = load_config(args.config)
            endpoints = endpoints_for(
                cfg.binance, args.testnet or None, args.demo_trading or None
            )
            args.keys_verify = keys_verifier(endpoints, cfg.binance.recv_window_ms)
        return int(args.handler(args))
    if cmd == "strategies":
        from tapedesk.engine.strategy_catalog import print_catalog

        return print_catalog(args.json)
    if cmd in ("status", "trades", "halt", "resume", "paths"):
        from tapedesk.engine import desk_commands

        return int(getattr(desk_commands, f"cmd_{cmd}")(args))
    if cmd == "reconcile":
        return cmd_reconcile(args)
    _check_options(args)
    from tapedesk.engine.config import load_config

    config = load_config(args.config)
    check_ui = getattr(desk_runner, "check_config", None)  # the desk's own [ui] checks
    if check_ui is not None and cmd != "backtest":
        check_ui(config)
    if cmd == "backtest":
        return cmd_backtest(args, config)
    import asyncio

    from tapedesk.engine.desk_lock import lock_desk
    from tapedesk.engine.paths import data_dir

    ddir = data_dir(args.data_dir)
    # Before anything touches the data dir or the account: one desk per data dir and mode.
    lock_desk(ddir, _desk_mode(args, config))
    if cmd == "demo":
        from tapedesk.engine.assembly import DEMO_SPEED, build_demo_engine

        engine = build_demo_engine(ddir, config, speed=args.speed or DEMO_SPEED)
        return _run_desk(engine, desk_runner, demo=True)
    if cmd == "run" and args.replay is not None and args.live:
        raise UserError("--live trades on Binance's live market data; a replay is always paper"
                        " (drop --live, or drop --replay)")
    if cmd == "run" and args.replay is not None:
        from tapedesk.engine.assembly import build_replay_engine

        if not args.replay.exists():
            raise UserError(f"no such data file: {args.replay}")
        engine = build_replay_engine(
            args.replay,
            data_dir=ddir,
            config=config,
            speed=args.speed,
            loop=args.loop,
            resume=not args.no_resume,
            symbol=args.symbol,
        )
        if args.headless:
            return asyncio.run(run_headless(engine))
        return _run_desk(engine, desk_runner, demo=False)
    if args.live:
        return _run_live(args, config, ddir, desk_runner)
    from tapedesk.engine.assembly import build_paper_engine

    engine = build_paper_engine(ddir, config, args.testnet or None, args.demo_trading or None)
    if cmd == "run" and args.headless:
        return asyncio.run(run_headless(engine))
    notice = "Paper mode on live Binance market data. No connection? Press d for the offline demo."
    return _run_desk(engine, desk_runner, demo=False, notice=notice)


def _run_desk(
    engine: Any, desk_runner: DeskRunner | None, *, demo: bool, notice: str | None = None
) -> int:
    if desk_runner is None:
        import asyncio

        return asyncio.run(run_headless(engine))
    return desk_runner(engine, demo=demo, notice=notice)


def _run_live(
    args: argparse.Namespace, config: DeskConfig, ddir: Path, desk_runner: DeskRunner | None
) -> int:
    """Checks, typed confirmation, set-up and the engine on one event loop (engine.live_loop);
    headless with ``run --headless`` (or without a desk), else in the desk."""
    from tapedesk.engine.live_loop import run_live

    prepare = _build_live(args, config, ddir)
    if desk_runner is None or (args.command == "run" and args.headless):
        return run_live(prepare, lambda engine, loop: loop.run_until_complete(
            run_live_headless(engine)))
    return run_live(prepare, lambda engine, loop: desk_runner(
        engine, demo=False, notice=None, loop=loop))


def _say(line: str) -> None:
    print(line, flush=True)  # stdout may be a pipe or a log file: show it now


def _ask(prompt: str) -> str:
    """The typed confirmation; a closed stdin answers nothing (which aborts)."""
    try:
        return input(prompt)
    except EOFError:
        print(file=sys.stderr)
        return ""


def _build_live(args: argparse.Namespace, config: DeskConfig, ddir: Path) -> Any:
    """Credentials now (keyring); the returned coroutine function does the rest in the loop
    that will run the engine, and turns every refusal into one line (UserError)."""
    from tapedesk.engine.assembly import build_live_engine
    from tapedesk.engine.binance.live import LiveAborted, prepare_live
    from tapedesk.engine.keys import KeyringUnavailable, load_credentials

    env = "testnet" if args.testnet else "demo-trading" if args.demo_trading else "live"
    try:
        creds = load_credentials(environment=env)
    except KeyringUnavailable as exc:
        raise UserError(str(exc)) from None

    async def prepare() -> Any:
        try:
            venue = await prepare_live(
                config, creds, _ask, _say, args.testnet or None, args.demo_trading or None
            )
        except LiveAborted as exc:
            raise UserError(str(exc)) from None
        try:
            return build_live_engine(
                ddir, config, venue, args.testnet or None, args.demo_trading or None
            )
        except BaseException:
            await venue.client.close_connection()
            raise

    return prepare


async def run_live_headless(engine: Any, out: Any = None) -> int:
    """``run_headless`` plus one line once the desk can trade (streams connected)."""
    import asyncio
    import contextlib

    from tapedesk.engine.live_loop import announce_ready

    out = out or sys.stdout
    ready = asyncio.ensure_future(announce_ready(engine, lambda t: print(t, file=out, flush=True)))
    try:
        return await run_headless(engine, out)
    finally:
        ready.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ready


# -- headless run ----------------------------------------------------------------------


async def run_headless(engine: Any, out: Any = None) -> int:
    """Run until the feed ends or a signal; one line per explanation, then a summary.

    Lines are printed only once the journal holds them (``on_committed``). A journal that
    cannot be opened, or stays unwritable, ends the run with one plain line on stderr.
    """
    import asyncio
    import signal

    from tapedesk.engine.clock import iso
    from tapedesk.engine.events import Explanation
    from tapedesk.engine.journal_health import JournalError, failure_line

    out = out or sys.stdout

    def show(e: Any) -> None:
        if isinstance(e, Explanation):
            print(f"{iso(e.ts)}  {str(e.kind).upper():8s} {e.text}", file=out, flush=True)

    engine.on_committed = show
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(engine.run())
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, task.cancel)
    failure, interrupted = "", False
    try:
        await task
    except asyncio.CancelledError:
        interrupted = True
    except JournalError as exc:
        failure = str(exc)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await engine.stop()
    failure = failure_line(engine) or failure
    if interrupted and not failure:
        print("Interrupted: journal flushed.", file=out)
    if failure:
        print(f"tapedesk: {failure}", file=sys.stderr)
        if getattr(engine, "journal_health", None) is None:  # refused at start: nothing ran
            return 2
    _print_summary(engine, out)
    return 1 if failure else 0


def _print_summary(engine: Any, out: Any) -> None:
    from tapedesk.engine.metrics import compute_metrics, format_table

    m = compute_metrics(
        engine.trades,
        engine.equity_curve(),
        float(engine.initial_balance),
        engine.bars_in_position,
        engine.bars_seen,
    )
    print("", file=out)
    print(f"Summary ({engine.mode}, journal {getattr(engine.journal, 'path', '-')}):", file=out)
    print(format_table(m), file=out)
    snap = engine.snapshot()
    print(
        f"state {snap.state}; open positions: "
        f"{', '.join(f'{p.side} {p.qty} {p.symbol}' for p in snap.positions.values()) or 'none'}",
        file=out,
    )


# -- backtest (engine.backtest_cli, imported only when a backtest runs) ------------------


def cmd_backtest(args: argparse.Namespace, config: DeskConfig) -> int:
    from tapedesk.engine.backtest_cli import cmd_backtest as run

    return run(args, config)


def cmd_reconcile(args: argparse.Namespace) -> int:
    from tapedesk.engine.control import send, socket_path
    from tapedesk.engine.paths import data_dir

    path = socket_path(data_dir(args.data_dir), args.mode)
    if args.key and not args.action:
        raise UserError("say what to do with it: adopt, flatten or ignore")
    try:
        answer = send(path, "reconcile", key=args.key or "", action=args.action or "")
    except OSError:
        raise UserError(f"no {args.mode} desk is running to reconcile") from None
    if not answer.get("ok"):
        raise UserError(answer.get("error", "refused"))
    if answer.get("text"):
        print(answer["text"])
    print(answer.get("describe", ""))
    return 0
