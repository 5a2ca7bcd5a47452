"""Which code runs a parsed `tapedesk` command: engine/commands/ modules, `keys`, the
commands beside a desk (desk_commands), backtest, and the desk itself (demo, replay, paper,
live) once its options, config and desk lock are checked.

Imports only what the command it runs needs, inside the branch that runs it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tapedesk.engine.cli_errors import UserError
from tapedesk.engine.headless import run_headless, run_live_headless

if TYPE_CHECKING:
    from tapedesk.engine.config import DeskConfig

DeskRunner = Callable[..., int]


def check_options(args: argparse.Namespace) -> None:
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


def desk_mode(args: argparse.Namespace, config: DeskConfig) -> str:
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


def dispatch(args: argparse.Namespace, desk_runner: DeskRunner | None) -> int:
    cmd = args.command
    run_command = getattr(args, "run_command", None)
    if run_command is not None:  # a command in engine/commands/
        return int(run_command(args))
    if cmd == "keys":
        if args.keys_action == "check" and getattr(args, "keys_verify", None) is None:
            from tapedesk.engine.binance.live import endpoints_for, keys_verifier
            from tapedesk.engine.config import load_config
            from tapedesk.engine.keys_cli import environment_from_args

            cfg = load_config(args.config)
            # Keys are checked where they belong: `keys check --testnet` reads the testnet
            # keys, so it asks the testnet (URL overrides in the config still win).
            env = environment_from_args(args)
            endpoints = endpoints_for(cfg.binance, env == "testnet", env == "demo-trading")
            args.keys_verify = keys_verifier(endpoints, cfg.binance.recv_window_ms)
        return int(args.handler(args))
    if cmd == "strategies":
        from tapedesk.engine.strategy_catalog import print_catalog

        return print_catalog(args.json)
    if cmd in ("status", "trades", "halt", "resume", "paths", "reconcile"):
        from tapedesk.engine import desk_commands

        return int(getattr(desk_commands, f"cmd_{cmd}")(args))
    check_options(args)
    if cmd == "backtest":
        return cmd_backtest(args)
    from tapedesk.engine.config import build_models, load_config

    config = load_config(args.config)
    build_models()  # a desk runs for days with worker threads: no first-use build in one
    check_ui = getattr(desk_runner, "check_config", None)  # the desk's own [ui] checks
    if check_ui is not None:
        check_ui(config)
    import asyncio

    from tapedesk.engine.desk_lock import lock_desk
    from tapedesk.engine.paths import data_dir

    ddir = data_dir(args.data_dir)
    # Before anything touches the data dir or the account: one desk per data dir and mode.
    lock_desk(ddir, desk_mode(args, config))
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


# -- backtest (engine.backtest_cli, imported only when a backtest runs) ------------------


def cmd_backtest(args: argparse.Namespace) -> int:
    """The config, then the run. Set-up (config models, the engine's modules, strategies)
    allocates what lives as long as the run: the collector stays off until the run starts
    (backtest_cli.run_gc turns it on and freezes all that), ~3 % of a short run's work."""
    import gc

    was_on = gc.isenabled()
    gc.disable()
    try:
        from tapedesk.engine.backtest_cli import cmd_backtest as run
        from tapedesk.engine.config import load_config

        return run(args, load_config(args.config))
    finally:
        if was_on:
            gc.enable()
