"""The `tapedesk` command line (headless parts; the TUI plugs in through ``desk_runner``).

Every failure a user can cause ends in one plain sentence on stderr and exit code 2, never a
traceback: bad config (field path and what is wrong), missing files, unknown strategies.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import signal
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tapedesk.engine.clock import iso, parse_time
from tapedesk.engine.config import ConfigError, DeskConfig, data_dir, load_config
from tapedesk.engine.journal_health import JournalError

DeskRunner = Callable[..., int]
MODES = ("paper", "live", "demo")


def _version() -> str:
    from tapedesk import __version__

    return __version__


class UserError(Exception):
    """Something the user can fix; printed as one line."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tapedesk",
        description="Terminal trading desk for Binance USDT-M perpetual futures. With no command:"
        " the desk in paper mode on live Binance market data.",
    )
    p.add_argument("--version", action="version", version=f"tapedesk {_version()}")
    p.add_argument("--config", type=Path, help="TOML config file (default: XDG config dir)")
    p.add_argument(
        "--data-dir", type=Path, help="journal directory (default: $TAPEDESK_HOME or XDG data dir)"
    )
    p.add_argument("--log-level", default="WARNING", help="Python log level for stderr")
    p.add_argument("--live", action="store_true", help="trade for real (asks to confirm)")
    env = p.add_mutually_exclusive_group()
    env.add_argument("--testnet", action="store_true", help="use Binance's futures testnet")
    env.add_argument(
        "--demo",
        dest="demo_env",
        action="store_true",
        help="use Binance's demo trading environment",
    )
    sub = p.add_subparsers(dest="command")

    d = sub.add_parser("demo", help="offline demo: the bundled real sample, looping, paper mode")
    d.add_argument("--speed", type=float, default=None, help="replay speed (default 600x)")

    r = sub.add_parser("run", help="run the desk (TUI, or --headless)")
    r.add_argument("--headless", action="store_true", help="no TUI: print explanations")
    r.add_argument("--replay", type=Path, help="replay this data file instead of live data")
    r.add_argument("--speed", type=float, default=1.0, help="replay speed; 0 = as fast as possible")
    r.add_argument("--loop", action="store_true", help="replay forever")
    r.add_argument("--symbol", help="symbol for data files that do not name one")
    r.add_argument(
        "--no-resume",
        action="store_true",
        help="start the replay from the beginning even if the journal has progress",
    )

    b = sub.add_parser("backtest", help="backtest strategies on a data file")
    b.add_argument("--data", type=Path, required=True, help="kline CSV/JSON or stream capture")
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
    b.add_argument("--slippage-bps", type=float, help="adverse slippage in basis points")
    b.add_argument("--fixed-qty", help="fixed quantity per trade (bypasses risk sizing)")
    b.add_argument("--no-risk", action="store_true", help="research only: no risk rules")
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

    s = sub.add_parser("status", help="desk state from the journal (works while a desk runs)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--mode", choices=MODES, help="which journal (default: most recent)")

    t = sub.add_parser("trades", help="closed trades from the journal")
    fmt = t.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    t.add_argument("--day", help="only trades closed on this UTC day (YYYY-MM-DD)")
    t.add_argument("--mode", choices=MODES, help="which journal (default: most recent)")

    h = sub.add_parser("halt", help="emergency stop of the running desk (from another shell)")
    h.add_argument("--mode", choices=MODES, help="which desk (default: every running one)")

    rc = sub.add_parser("reconcile", help="list or answer a live desk's startup differences")
    rc.add_argument("key", nargs="?", help="the difference to answer (as listed)")
    rc.add_argument("action", nargs="?", choices=("adopt", "flatten", "ignore"))
    rc.add_argument("--mode", choices=MODES, default="live")

    try:
        from tapedesk.engine.keys_cli import add_keys_subparser

        add_keys_subparser(sub)
    except ImportError:  # pragma: no cover - keys module always ships
        pass
    return p


def main(argv: list[str] | None = None, desk_runner: DeskRunner | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return _dispatch(args, desk_runner)
    except (UserError, ConfigError, FileNotFoundError, JournalError) as exc:
        print(f"tapedesk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, desk_runner: DeskRunner | None) -> int:
    cmd = args.command
    if cmd == "keys":
        if args.keys_action == "check" and getattr(args, "keys_verify", None) is None:
            from tapedesk.engine.binance.live import endpoints_for, keys_verifier

            cfg = load_config(args.config)
            endpoints = endpoints_for(cfg.binance, args.testnet or None, args.demo_env or None)
            args.keys_verify = keys_verifier(endpoints, cfg.binance.recv_window_ms)
        return int(args.handler(args))
    if cmd == "status":
        return cmd_status(args)
    if cmd == "trades":
        return cmd_trades(args)
    if cmd == "halt":
        return cmd_halt(args)
    if cmd == "reconcile":
        return cmd_reconcile(args)
    config = load_config(args.config)
    if cmd == "backtest":
        return cmd_backtest(args, config)
    ddir = data_dir(args.data_dir)
    if cmd == "demo":
        from tapedesk.engine.assembly import DEMO_SPEED, build_demo_engine

        engine = build_demo_engine(ddir, config, speed=args.speed or DEMO_SPEED)
        return _run_desk(engine, desk_runner, demo=True)
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
        engine = _build_live(args, config, ddir)
        if engine is None:
            return 2
    else:
        from tapedesk.engine.assembly import build_paper_engine

        engine = build_paper_engine(ddir, config, args.testnet or None, args.demo_env or None)
    if cmd == "run" and args.headless:
        return asyncio.run(run_headless(engine))
    notice = (
        None
        if args.live
        else (
            "Paper mode on live Binance market data. No connection? Press d for the offline demo."
        )
    )
    return _run_desk(engine, desk_runner, demo=False, notice=notice)


def _run_desk(
    engine: Any, desk_runner: DeskRunner | None, *, demo: bool, notice: str | None = None
) -> int:
    if desk_runner is None:
        return asyncio.run(run_headless(engine))
    return desk_runner(engine, demo=demo, notice=notice)


def _build_live(args: argparse.Namespace, config: DeskConfig, ddir: Path) -> Any:
    from tapedesk.engine.assembly import build_live_engine
    from tapedesk.engine.binance.live import LiveAborted, prepare_live
    from tapedesk.engine.keys import KeyringUnavailable, load_credentials

    env = "testnet" if args.testnet else "demo" if args.demo_env else "live"
    try:
        creds = load_credentials(environment=env)
    except KeyringUnavailable as exc:
        raise UserError(str(exc)) from None
    try:
        venue = asyncio.run(
            prepare_live(config, creds, input, print, args.testnet or None, args.demo_env or None)
        )
    except LiveAborted as exc:
        raise UserError(str(exc)) from None
    return build_live_engine(ddir, config, venue, args.testnet or None, args.demo_env or None)


# -- headless run ----------------------------------------------------------------------


async def run_headless(engine: Any, out: Any = None) -> int:
    """Run until the feed ends or a signal; one line per explanation, then a summary.

    Lines are printed only once the journal holds them (``on_committed``). A journal that
    cannot be opened, or stays unwritable, ends the run with one plain line on stderr.
    """
    from tapedesk.engine.events import Explanation
    from tapedesk.engine.journal_health import failure_line

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


# -- backtest --------------------------------------------------------------------------


def _parse_params(raw: list[str], names: list[str]) -> dict[str, dict[str, str]]:
    """``k=v`` goes to every strategy that has ``k``; ``strategy.k=v`` to that one."""
    from tapedesk.engine.strategy import available

    per: dict[str, dict[str, str]] = {n: {} for n in names}
    for item in raw:
        if "=" not in item:
            raise UserError(f"--param {item!r}: use name=value or strategy.name=value")
        key, value = item.split("=", 1)
        if "." in key:
            strat, key = key.split(".", 1)
            if strat not in per:
                raise UserError(f"--param {item!r}: strategy {strat!r} is not in this backtest")
            per[strat][key] = value
        else:
            takers = [n for n in names if key in available()[n].PARAMS]
            if not takers:
                raise UserError(f"--param {item!r}: no strategy in this backtest has {key!r}")
            for n in takers:
                per[n][key] = value
    return per


def _decimal(text: str | None, flag: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UserError(f"{flag} {text!r} is not a number") from None
    if value <= 0:
        raise UserError(f"{flag} must be positive, got {text}")
    return value


def cmd_backtest(args: argparse.Namespace, config: DeskConfig) -> int:
    from tapedesk.engine.assembly import load_user_strategies
    from tapedesk.engine.backtest import run_backtest
    from tapedesk.engine.feeds.files import DataFormatError, iter_events, load_bars
    from tapedesk.engine.metrics import ProgressBar, format_table
    from tapedesk.engine.strategy import StrategyError, available, create

    for problem in load_user_strategies():
        print(f"warning: {problem}", file=sys.stderr)
    names = args.strategy or ["ema_cross"]
    if "all" in names:
        names = sorted(available())
    per = _parse_params(args.param, names)
    try:
        strategies = [create(n, (args.symbol,) if args.symbol else None, **per[n]) for n in names]
    except StrategyError as exc:
        raise UserError(str(exc)) from None
    if not args.data.exists():
        raise UserError(f"no such data file: {args.data}")
    try:
        start = parse_time(args.start) if args.start else None
        end = parse_time(args.end) if args.end else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    warnings: list[str] = []
    try:
        needs_ticks = any(s.handles("on_quote") or s.handles("on_trade") for s in strategies)
        if needs_ticks or args.fill_at == "quote":
            events: Any = list(iter_events(args.data, args.symbol, start, end, warnings.append))
        else:
            events = load_bars(args.data, args.symbol, start, end, warnings.append)
    except DataFormatError as exc:
        raise UserError(f"{args.data}: {exc}") from None
    for w in warnings[:20]:
        print(f"warning: {w}", file=sys.stderr)
    if len(warnings) > 20:
        print(f"warning: … and {len(warnings) - 20} more skipped lines", file=sys.stderr)
    if not events:
        raise UserError(f"{args.data}: no market events in the chosen range")
    bar = None
    if not args.json and not args.no_progress and len(events) > 200_000:
        bar = ProgressBar(len(events), sys.stderr)
    result = run_backtest(
        events,
        strategies,
        config,
        progress=bar.update if bar else None,
        fill_at=args.fill_at,
        fee_bps=args.fee_bps,
        slippage_bps=args.slippage_bps,
        fixed_qty=_decimal(args.fixed_qty, "--fixed-qty"),
        no_risk=args.no_risk,
        initial_balance=_decimal(args.initial_balance, "--initial-balance"),
    )
    if bar:
        bar.close()
    extra = _research(args, result)
    if args.json:
        doc = result.to_json()
        doc.update(extra)
        print(json.dumps(doc, indent=2, default=str))
        return 0
    print(format_table(result.metrics, result.labels))
    for name, m in result.per_strategy.items():
        print(f"\n{name}:")
        print(format_table(m))
    for key, text in extra.items():
        if isinstance(text, str):
            print(f"\n{text}" if key != "report" else f"\nreport written to {text}")
    return 0


def _research(args: argparse.Namespace, result: Any) -> dict[str, Any]:
    """Monte Carlo, terminal plot and report (engine.research) on the backtest's trades."""
    out: dict[str, Any] = {}
    start = float(result.metrics.initial_balance)
    mc = None
    if args.monte_carlo:
        from tapedesk.engine.research.montecarlo import monte_carlo

        try:
            mc = monte_carlo(
                [float(t.pnl) for t in result.trades], args.monte_carlo, start_equity=start
            )
        except ValueError as exc:
            raise UserError(str(exc)) from None
        out["monte_carlo"] = mc.table()
    if args.plot and not args.json:
        from tapedesk.engine.research.plots import equity_plot

        out["plot"] = equity_plot(result.equity)
    if args.report:
        from tapedesk.engine.research.report import StrategyRun, write_report

        runs = [StrategyRun("combined", result.trades, result.equity, result.metrics.to_dict())]
        for name, m in result.per_strategy.items():
            mine = [t for t in result.trades if t.strategy == name]
            runs.append(StrategyRun(name, mine, [], m.to_dict()))
        try:
            out["report"] = str(write_report(args.report, runs, mc))
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return out


# -- journal readers -------------------------------------------------------------------


def _journal_for(args: argparse.Namespace) -> tuple[str, Path]:
    from tapedesk.engine.journal import db_path

    ddir = data_dir(args.data_dir)
    if args.mode:
        return args.mode, db_path(ddir, args.mode)
    found = [(db_path(ddir, m).stat().st_mtime, m) for m in MODES if db_path(ddir, m).exists()]
    if not found:
        raise UserError(f"no journal in {ddir}: no desk has run with this data dir yet")
    mode = max(found)[1]
    return mode, db_path(ddir, mode)


def read_status(mode: str, path: Path) -> dict[str, Any]:
    from tapedesk.engine.journal import open_readonly

    conn = open_readonly(path)
    try:
        settings = dict(conn.execute("SELECT key, value FROM settings").fetchall())
        day = conn.execute(
            "SELECT day, trades, losses, realized_pnl, fees, locked, lock_reason "
            "FROM daily_state ORDER BY day DESC LIMIT 1"
        ).fetchone()
        ck = conn.execute("SELECT cursor_ts, engine_state FROM checkpoint WHERE id = 1").fetchone()
    finally:
        conn.close()
    positions = json.loads(ck[1]).get("positions", []) if ck else []
    engine_state = json.loads(ck[1]) if ck else {}
    strategies = json.loads(settings.get("strategies", "[]"))
    return {
        "mode": mode,
        "halted": settings.get("halted") == "1",
        "paused": settings.get("paused") == "1",
        "day": None
        if day is None
        else {
            "day": day[0],
            "trades": day[1],
            "losses": day[2],
            "realized_pnl": day[3],
            "fees": day[4],
            "locked": bool(day[5]),
            "lock_reason": day[6],
        },
        "balance": engine_state.get("balance"),
        "position": positions[0] if positions else None,
        "positions": positions,
        "strategies_enabled": [s["name"] for s in strategies if s.get("enabled")],
        "strategies": strategies,
        "last_event": iso(ck[0]) if ck and ck[0] else None,
    }


def cmd_status(args: argparse.Namespace) -> int:
    mode, path = _journal_for(args)
    st = read_status(mode, path)
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    state = "HALTED" if st["halted"] else "PAUSED" if st["paused"] else "RUNNING"
    d = st["day"] or {}
    if d.get("locked"):
        state += f" (day locked: {d['lock_reason']})"
    print(f"mode      {mode}\nstate     {state}")
    if d:
        print(
            f"day       {d['day']}: {d['trades']} trades, {d['losses']} losses, "
            f"realised {Decimal(d['realized_pnl']):+,.2f} USDT (fees {Decimal(d['fees']):,.2f})"
        )
    print(f"balance   {st['balance'] or '-'} USDT")
    pos = st["position"]
    print(
        "position  "
        + (
            f"{pos['side']} {pos['qty']} {pos['symbol']} @ {pos['entry']} "
            f"(stop {pos.get('stop')}, target {pos.get('tp')})"
            if pos
            else "flat"
        )
    )
    print(f"strategies {', '.join(st['strategies_enabled']) or 'none enabled'}")
    return 0


def cmd_trades(args: argparse.Namespace) -> int:
    from tapedesk.engine.backtest import trade_json
    from tapedesk.engine.clock import parse_time
    from tapedesk.engine.journal import TRADE_COLUMNS, open_readonly, row_to_trade

    _mode, path = _journal_for(args)
    sql, params = f"SELECT {TRADE_COLUMNS} FROM trades", ()
    if args.day:
        try:
            start = parse_time(args.day)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        sql += " WHERE exit_ts >= ? AND exit_ts < ?"
        params = (start, start + 86_400_000)
    conn = open_readonly(path)
    try:
        trades = [row_to_trade(r) for r in conn.execute(sql + " ORDER BY exit_ts", params)]
    finally:
        conn.close()
    rows = [trade_json(t) for t in trades]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.csv:
        cols = list(rows[0]) if rows else list(trade_json.__annotations__)
        w = csv.DictWriter(sys.stdout, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    else:
        if not rows:
            print("no closed trades")
        for r in rows:
            print(
                f"{r['exit_time']}  {r['side']:5s} {r['qty']:>8s} {r['symbol']}  "
                f"{r['entry_price']} → {r['exit_price']}  fees {r['fees']}  "
                f"pnl {Decimal(r['pnl']):+,.2f}  {r['strategy']} ({r['reason']})"
            )
    return 0


def cmd_halt(args: argparse.Namespace) -> int:
    from tapedesk.engine.control import send, socket_path

    ddir = data_dir(args.data_dir)
    modes = [args.mode] if args.mode else list(MODES)
    reached = 0
    for mode in modes:
        path = socket_path(ddir, mode)
        if not path.exists():
            continue
        try:
            answer = send(path, "halt")
        except OSError:
            continue
        reached += 1
        flat = "verified flat" if answer.get("flat") else "NOT yet flat (still retrying)"
        print(f"{mode} desk: emergency stop done, state {answer.get('state')}, {flat}.")
    if not reached:
        print(f"no desk is running with data dir {ddir}: nothing to halt.", file=sys.stderr)
        return 1
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from tapedesk.engine.control import send, socket_path

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
