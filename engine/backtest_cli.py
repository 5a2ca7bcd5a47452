"""``tapedesk backtest``: options → strategies → streamed events → result on the terminal.

The file is streamed (``iter_events``), never held: memory stays flat however long the
data, and the progress bar follows the bytes read from the file. Strategies that cannot run
on the data (quote or trade strategies given bars only) are listed as skipped, with the
reason, instead of silently producing nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tapedesk.engine.cli import UserError
from tapedesk.engine.clock import parse_time
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.events import Kind, MarketEvent
from tapedesk.engine.strategy import Strategy

#: Below this size a backtest is over before a progress bar would be worth drawing.
PROGRESS_MIN_BYTES = 4 << 20
#: Equity is carried as a float: above ~1e12 USDT a cent is below its resolution.
MAX_BALANCE = Decimal(10) ** 12
#: gc gen0 threshold during a run (CPython's default 700 collects every few bars).
RUN_GC_GEN0 = 50_000


def cmd_backtest(args: argparse.Namespace, config: DeskConfig) -> int:
    from tapedesk.engine.backtest import run_backtest
    from tapedesk.engine.feeds.files import detect_format, iter_events
    from tapedesk.engine.strategy import available, create

    _no_collection_at_exit()
    if args.compare:
        from tapedesk.engine.backtest_results import compare

        print(compare(*args.compare))
        return 0
    if args.data is None:
        raise UserError("backtest needs --data FILE (or --compare A.json B.json)")
    names = [n.strip() for s in args.strategy or ["ema_cross"] for n in s.split(",") if n.strip()]
    names = list(dict.fromkeys(names))  # named twice is once: two copies fight over a position
    # User plugins only when the run may use one: a name not known yet, or all. A plugin
    # cannot take a known name (strategy_plugins), so for a run of built-ins loading them
    # changed nothing and cost ~8 % of a short run (importing importlib.metadata and
    # assembly, scanning every installed distribution's entry points); `tapedesk
    # strategies` reports broken plugins.
    if "all" in names or not available().keys() >= set(names):
        from tapedesk.engine.assembly import load_user_strategies

        for problem in load_user_strategies():
            print(f"warning: {problem}", file=sys.stderr)
    if "all" in names:
        names = sorted(available())
    per = _parse_params(args.param, names)
    _check_backtest_options(args)
    # StrategyError (unknown name, unknown or ill-typed parameter) ends in main: one line.
    strategies = [create(n, (args.symbol,) if args.symbol else None, **per[n]) for n in names]
    if not args.data.exists():
        raise UserError(f"no such data file: {args.data}")
    try:
        start = parse_time(args.start) if args.start else None
        end = parse_time(args.end) if args.end else None
    except (ValueError, OverflowError) as exc:
        raise UserError(str(exc)) from None
    if start is not None and end is not None and start >= end:
        raise UserError(f"--from {args.start} is not before --to {args.end} (--to is exclusive)")
    fmt = detect_format(args.data)  # DataError: one line in main
    check_fill_at(args.fill_at, args.data, fmt)
    strategies, skipped = runnable(strategies, has_ticks=fmt == "ws_capture")
    for name, why in skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    if not strategies:
        raise UserError(f"{args.data}: no selected strategy can run on this data")
    # A file that cannot be read raises DataError (one line in main), possibly mid-run;
    # skipped rows come back as one summary line per file once it has been read.
    warnings: list[str] = []
    needs_ticks = any(s.handles("on_quote") or s.handles("on_trade") for s in strategies)
    cache = _cache_dir(args)
    events: Iterator[MarketEvent] = iter_events(
        args.data, args.symbol, start, end, warnings.append, fmt, cache
    )
    if fmt == "ws_capture" and not needs_ticks and args.fill_at != "quote":
        events = (e for e in events if e.kind is Kind.BAR)  # bar strategies: closed klines
    if fmt not in ("ws_capture", "market_store"):  # bars: Binance's rates when downloaded
        from tapedesk.engine.market_data.funding import with_downloaded_funding

        events = with_downloaded_funding(events, args.data_dir, warnings.append)
    bar = None
    size = args.data.stat().st_size
    if not args.json and not args.no_progress and size > PROGRESS_MIN_BYTES:
        from tapedesk.engine.metrics import ProgressBar

        bar = ProgressBar(size, sys.stderr, unit="bytes")
    with run_gc():
        result = run_backtest(
            events,
            strategies,
            config,
            progress=_bytes_read(args.data, bar.update, cache) if bar else None,
            fill_at=args.fill_at,
            fee_bps=args.fee_bps,
            slippage_bps=args.slippage_bps,
            funding_bps=args.funding_bps,
            fixed_qty=_decimal(args.fixed_qty, "--fixed-qty"),
            no_risk=args.no_risk,
            margin_check=not args.no_margin_check,
            initial_balance=_decimal(args.initial_balance, "--initial-balance"),
            keep_explanations=0,  # the command prints no explanation line
        )
        if bar:
            bar.close()
        return _show(args, result, warnings, skipped)


def _show(args: argparse.Namespace, result: Any, warnings: list[str],
          skipped: dict[str, str]) -> int:
    """The result: warnings, the table (or --json) on the terminal, the JSON saved."""
    from tapedesk.engine.metrics import format_strategy_table, format_table

    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not result.events:
        raise UserError(f"{args.data}: no market events in the chosen range")
    extra = _research(args, result)
    doc = result.json_doc()  # the trades written as they are encoded, never held whole
    doc["skipped"] = skipped
    saved = _save(args, doc)
    if args.json:
        from tapedesk.engine import indented_json

        doc.update(extra)
        indented_json.dump(doc, sys.stdout.write, 2)  # json.dumps(doc, indent=2, default=str)
        sys.stdout.write("\n")
        print(f"result saved to {saved}", file=sys.stderr)
        return 0
    print(format_table(result.metrics, result.labels))
    if result.per_strategy or skipped:
        print()
        print(format_strategy_table(result.per_strategy, skipped))
    for key, text in extra.items():
        if isinstance(text, str):
            print(f"\n{text}" if key != "report" else f"\nreport written to {text}")
    print(f"\nresult saved to {saved} (compare two: tapedesk backtest --compare A.json B.json)")
    return 0


@contextmanager
def run_gc() -> Iterator[None]:
    """The collector's policy for one backtest run, restored after it.

    A run allocates millions of short-lived objects (events, orders, fills) while holding a
    growing list of trades; at CPython's default gen0 threshold (700) it collects every few
    bars and walks every long-lived object again and again. What set-up built (modules,
    config, strategies) is frozen out of the collector, and gen0 collects less often;
    cycles are still collected, so memory stays bounded. The CLI keeps the collector off
    during set-up (cli_dispatch.cmd_backtest): it is turned on here, and back off after.
    """
    import gc

    old = gc.get_threshold()
    was_on = gc.isenabled()
    ours = not gc.get_freeze_count()  # a caller's own frozen objects stay frozen
    if ours:
        gc.freeze()
    gc.set_threshold(RUN_GC_GEN0, old[1], old[2])
    gc.enable()
    try:
        yield
    finally:
        gc.set_threshold(*old)
        if not was_on:
            gc.disable()
        if ours:
            gc.unfreeze()


def _no_collection_at_exit() -> None:
    """Skip the collection CPython runs at interpreter exit, once per process.

    Before tearing the modules down, exit collects every generation once more: after a
    backtest that walks all the objects set-up and the run left (~35 ms, as long as a
    1,000-bar run), only to free memory the process gives back anyway. An exit hook (hooks
    run before that collection) freezes them all so it has nothing to walk. Nothing a
    backtest writes waits for a collection: the result file, the copy's handles and the
    logs are closed or flushed explicitly.
    """
    import atexit
    import gc

    global _EXIT_HOOKED
    if not _EXIT_HOOKED:
        _EXIT_HOOKED = True
        atexit.register(gc.freeze)


_EXIT_HOOKED = False


def _cache_dir(args: argparse.Namespace) -> Path | None:
    """Where binary copies of large CSVs live (engine.feeds.bar_copy), or None."""
    if getattr(args, "no_cache", False):
        return None
    from tapedesk.engine.paths import data_dir

    try:
        return data_dir(args.data_dir) / "cache" / "bars"
    except Exception:  # no usable data dir: read the text, the result save will say why
        return None


def _save(args: argparse.Namespace, doc: dict[str, Any]) -> Path:
    from tapedesk.engine.backtest_results import save
    from tapedesk.engine.paths import data_dir

    run = {"data": str(args.data), "strategies": args.strategy or ["ema_cross"],
           "params": args.param, "command": ["tapedesk", *sys.argv[1:]]}
    try:
        return save({"run": run, **doc}, data_dir(args.data_dir))
    except OSError as exc:
        raise UserError(f"cannot save the result under the data dir: {exc}") from None


def runnable(
    strategies: list[Strategy], *, has_ticks: bool
) -> tuple[list[Strategy], dict[str, str]]:
    """The strategies the data can drive, and {name: why not} for the rest."""
    keep: list[Strategy] = []
    skipped: dict[str, str] = {}
    for s in strategies:
        if has_ticks or s.handles("on_bar"):
            keep.append(s)
        else:
            wants = [m.removeprefix("on_") + "s" for m in ("on_quote", "on_trade", "on_depth")
                     if s.handles(m)]
            skipped[s.name] = (
                f"needs {' / '.join(wants) or 'tick data'} (a stream capture); the data has bars only"
            )
    return keep, skipped


def _bytes_read(path: Path, update: Callable[[int], None],
               cache_dir: Path | None = None) -> Callable[[int], None]:
    """A progress callback that reports how far into ``path`` the reader is, in bytes.

    The reader's file is found once among this process's descriptors (/proc/self/fd) and
    its offset read with ``lseek(fd, 0, SEEK_CUR)`` — no change to the reader, no cost per
    event. When the bars come from the file's columnar copy (``cache_dir``), the offset in
    its first column, scaled to the file's size, stands for it. Where /proc does not exist,
    the bar simply stays where it is until the end.
    """
    targets = {os.path.realpath(path): 1.0}
    if cache_dir is not None:
        from tapedesk.engine.feeds.bar_copy import progress_file

        copy = progress_file(cache_dir, path)
        if copy is not None:
            targets[os.path.realpath(copy[0])] = copy[1]
    fd: list[tuple[int, float]] = []

    def find() -> None:
        try:
            for name in os.listdir("/proc/self/fd"):
                scale = targets.get(os.path.realpath(f"/proc/self/fd/{name}"))
                if scale is not None:
                    fd.append((int(name), scale))
                    return
        except OSError:
            return

    def progress(_events: int) -> None:
        if not fd:
            find()
        if fd:
            try:
                update(int(os.lseek(fd[0][0], 0, os.SEEK_CUR) * fd[0][1]))
            except OSError:
                fd.clear()

    return progress


def _parse_params(raw: list[str], names: list[str]) -> dict[str, dict[str, str]]:
    """``k=v`` goes to every strategy that has ``k``; ``strategy.k=v`` to that one.

    Only routing happens here: the names and values are checked by ``strategy.create``,
    the same check (and wording) a config's ``[[strategies]]`` gets.
    """
    from tapedesk.engine.strategy import StrategyError, available, create, known_params

    registry = available()
    for n in names:
        if n not in registry:
            create(n)  # raises StrategyError naming the available strategies
    per: dict[str, dict[str, str]] = {n: {} for n in names}
    for item in raw:
        if "=" not in item:
            raise UserError(f"--param {item!r}: use name=value or strategy.name=value")
        key, value = item.split("=", 1)
        key = key.strip()
        if "." in key:
            strat, key = key.split(".", 1)
            if strat not in per:
                raise UserError(
                    f"--param {item!r}: strategy {strat!r} is not in this backtest "
                    f"(selected: {', '.join(names)})"
                )
            per[strat][key] = value
        else:
            takers = [n for n in names if key in registry[n].PARAMS]
            if not takers:
                known = "; ".join(f"{n}: {known_params(registry[n])}" for n in names)
                raise StrategyError(
                    f"--param {item!r}: no strategy in this backtest has {key!r}; known: {known}"
                )
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
    if not value.is_finite():
        raise UserError(f"{flag} {text!r} is not a finite number")
    if value <= 0:
        raise UserError(f"{flag} must be positive, got {text}")
    return value


def check_fill_at(fill_at: str | None, data: Path, fmt: str) -> None:
    """Quote fills need bid/ask quotes: bars alone would be filled another way, unsaid."""
    if fill_at == "quote" and fmt != "ws_capture":
        raise UserError(f"--fill-at quote needs bid/ask quotes (a stream capture); {data} "
                        f"is {fmt}, bars only: use close or next-open")


def _check_backtest_options(args: argparse.Namespace) -> None:
    """Numeric backtest options: finite and in range, else one line (argparse takes 'nan')."""
    for flag, value, hi in (("--fee-bps", args.fee_bps, 100.0),
                            ("--slippage-bps", args.slippage_bps, 1000.0)):
        if value is not None and not (math.isfinite(value) and 0 <= value <= hi):
            raise UserError(f"{flag} must be between 0 and {hi:g} basis points, got {value}")
    fb = args.funding_bps
    if fb is not None and not (math.isfinite(fb) and -100 <= fb <= 100):
        raise UserError(f"--funding-bps must be between -100 and 100 basis points, got {fb}")
    if args.monte_carlo < 0:
        raise UserError(f"--monte-carlo must be >= 0, got {args.monte_carlo}")
    balance = _decimal(args.initial_balance, "--initial-balance")
    if balance is not None and balance > MAX_BALANCE:
        raise UserError(f"--initial-balance {args.initial_balance} is over {MAX_BALANCE:,} (the "
                        "equity curve would lose its cents); --no-margin-check is unlimited margin")


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

        out["plot"] = equity_plot(result.equity, start=start)
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
