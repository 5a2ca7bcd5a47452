"""``tapedesk optimize`` options → a stored search → workers → the report (and the config).

A search is defined once, when its study is created, and stored in the study (strategy,
ranges, objective, data fingerprint, windows, backtest options, risk config): a resumed
search (``--study NAME``) or a worker on another machine runs exactly that search. Every
problem the user can fix ends as one line (UserError) naming the option.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from tapedesk.engine.cli import UserError

DEFAULT_TRIALS = 100
DEFAULT_MIN_TRADES = 10


def cmd_optimize(args: argparse.Namespace) -> int:
    from tapedesk.engine.assembly import load_user_strategies
    from tapedesk.engine.paths import data_dir
    from tapedesk.engine.research import optimize as opt
    from tapedesk.engine.research.bar_cache import drop_old_caches

    # kill (a service manager's SIGTERM): stopped as ctrl+c stops it, from the start, so a
    # search stopped while its studies are made takes them back (opt.prepare) and workers stop
    signal.signal(signal.SIGTERM, _interrupt)
    for problem in load_user_strategies():
        print(f"warning: {problem}", file=sys.stderr)
    _check_numbers(args)
    if args.worker and not args.study:
        raise UserError("--worker needs --study NAME (the search to work on)")
    name = args.study or opt.new_name(args.strategy)
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise UserError(f"--study {name[:40]!r}: use letters, digits, '-', '_' or '.'")
    home = data_dir(args.data_dir, create=False)  # made (private) once the start is sound
    url = args.storage or f"journal:{home / 'optimize' / (name + '.journal')}"
    if url.startswith("sqlite") and (args.worker or (args.jobs or 0) != 1):
        # Measured (bench/optimize_scaling.py --storage-test): SQLite has no row locks, so two
        # workers can claim the same queued trial, and it is ~10x slower under concurrency.
        raise UserError("--storage sqlite: one worker only (add --jobs 1; SQLite cannot lock "
                        "a trial for one worker); for many, use the default journal file or "
                        "postgresql://")
    try:
        cache_dir = home / "cache" / "bars"  # shared with backtest
        drop_old_caches(home)
        if args.worker:
            if opt.absent(url):
                raise opt.no_search(name, url)
            data_dir(args.data_dir)
            res = opt.run_worker(url, name, args.data, 0, cache_dir=cache_dir)
            print(f"worker {res.worker}: ran {len(res.ran)} trial(s): "
                  + (", ".join(f"{f}#{n}" for f, n in res.ran) or "none were waiting"))
            return 0
        # A start that fails leaves nothing behind: a storage file that does not exist yet
        # holds no search to resume, so it is made only once the new search's options passed.
        storage = None if opt.absent(url) else opt.open_storage(url)
        spec, new = _spec(args, storage, name, cache_dir)
        data_dir(args.data_dir)
        if storage is None:
            storage = opt.open_storage(url)
        added = opt.prepare(storage, name, spec, new=new)
        jobs = opt.default_jobs() if args.jobs is None else args.jobs
        opt.log(f"study {name} in {opt._redact(url)}: {len(spec.folds)} search(es) x "
                f"{spec.trials} trials ({sum(added.values())} queued now); {jobs} local "
                f"worker(s). Resume: tapedesk optimize --study {name}"
                + (f" --storage {opt._redact(url)}" if args.storage else ""))
        try:
            if jobs > 0 and sum(added.values()) + _waiting(storage, name, spec):
                for r in opt.run_local_workers(url, name, jobs,
                                               args.data if _resumed(args) else None,
                                               cache_dir=cache_dir):
                    opt.log(f"worker {r.worker}: {len(r.ran)} trials, cpu {r.cpu_s:.1f} s, "
                            f"peak RSS {r.peak_rss_mib:.0f} MiB")
            opt.wait_for_remote(storage, name, spec, opt.log)
        except KeyboardInterrupt:
            opt.log(f"interrupted: finished trials are kept; resume with tapedesk optimize "
                    f"--study {name}" + (f" --storage {opt._redact(url)}" if args.storage else ""))
            raise
        return _report(args, storage, name, spec, cache_dir)
    except opt.OptimizeError as exc:
        raise UserError(str(exc)) from None


def _interrupt(_sig: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _resumed(args: argparse.Namespace) -> bool:
    """A resumed search may be given --data: the file at its new place (SHA-256 checked)."""
    return args.strategy is None and args.data is not None


def _waiting(storage: Any, name: str, spec: Any) -> int:
    import optuna
    from optuna.trial import TrialState
    from tapedesk.engine.research.optimize import study_names

    return sum(len(optuna.load_study(study_name=s, storage=storage).get_trials(
        deepcopy=False, states=(TrialState.WAITING,))) for _f, s in study_names(name, spec))


def _check_numbers(args: argparse.Namespace) -> None:
    if args.trials is not None and not 1 <= args.trials <= 1_000_000:
        raise UserError(f"--trials must be between 1 and 1,000,000, got {args.trials}")
    if args.walk_forward is not None and not 0 <= args.walk_forward <= 100:
        raise UserError(f"--walk-forward must be between 0 and 100, got {args.walk_forward}")
    if args.jobs is not None and not 0 <= args.jobs <= 1024:
        raise UserError(f"--jobs must be between 0 and 1024, got {args.jobs}")
    if args.min_trades is not None and args.min_trades < 0:
        raise UserError(f"--min-trades must be >= 0, got {args.min_trades}")
    # backtest's own check (the paper config's ranges): a value it refuses would otherwise
    # surface inside a trial, as an unexpected error, after the study was stored
    from tapedesk.engine.backtest_cli import _check_backtest_options

    _check_backtest_options(argparse.Namespace(**{**vars(args), "monte_carlo": 0}))


def _spec(args: argparse.Namespace, storage: Any, name: str,
          cache_dir: Path) -> tuple[Any, bool]:
    """The stored search for ``--study NAME``, else a new one from the options (True)."""
    from tapedesk.engine.research.optimize import load_spec

    spec = None if storage is None else load_spec(storage, name)
    if spec is not None:
        if args.strategy and args.strategy != spec.strategy:
            raise UserError(f"study {name} searches {spec.strategy}, not {args.strategy}; "
                            "choose another --study for a new search")
        given = [flag for flag, v in (
            ("--param", args.param), ("--objective", args.objective),
            ("--walk-forward", args.walk_forward), ("--seed", args.seed),
            ("--min-trades", args.min_trades), ("--no-prune", args.no_prune),
            ("--from", args.start), ("--to", args.end), ("--symbol", args.symbol),
            ("--fill-at", args.fill_at), ("--fee-bps", args.fee_bps),
            ("--slippage-bps", args.slippage_bps), ("--funding-bps", args.funding_bps),
            ("--initial-balance", args.initial_balance)) if v not in (None, [], False)]
        if given:
            raise UserError(f"study {name} exists and its search is fixed; resume it without "
                            f"{', '.join(given)} (or choose another --study)")
        if args.data is not None:
            from tapedesk.engine.research.objectives import file_sha256

            if not args.data.is_file() or file_sha256(args.data) != spec.data_sha256:
                raise UserError(f"{args.data}: not the data study {name} was made with "
                                "(SHA-256 differs)")
        if args.trials is not None:
            if args.trials < spec.trials:
                raise UserError(f"study {name} already has {spec.trials} trials per search; "
                                "--trials can only raise it")
            spec.trials = args.trials
        return spec, False
    if args.study and not args.strategy:  # a name mistyped, or another --storage
        raise UserError(f"no search called {name!r} to resume here; a new search needs "
                        "--strategy NAME")
    return _new_spec(args, cache_dir), True


def _new_spec(args: argparse.Namespace, cache_dir: Path) -> Any:
    from tapedesk.engine.backtest_cli import check_fill_at
    from tapedesk.engine.clock import parse_time
    from tapedesk.engine.config import load_config
    from tapedesk.engine.feeds.files import detect_format
    from tapedesk.engine.paths import data_dir
    from tapedesk.engine.research import bar_cache
    from tapedesk.engine.research.objectives import SearchSpec, file_sha256
    from tapedesk.engine.research.search_space import SearchSpaceError, parse_space
    from tapedesk.engine.research.walk_forward import data_span, make_folds

    if not args.strategy:
        raise UserError("optimize needs --strategy NAME (or --study NAME to resume)")
    if args.data is None:
        raise UserError("optimize needs --data FILE (or sample:1m)")
    try:
        dims, fixed = parse_space(args.strategy, args.param)
    except SearchSpaceError as exc:
        raise UserError(str(exc)) from None
    if not args.data.is_file():
        raise UserError(f"no such data file: {args.data}")
    try:
        start = parse_time(args.start) if args.start else None
        end = parse_time(args.end) if args.end else None
    except (ValueError, OverflowError) as exc:
        raise UserError(str(exc)) from None
    if start is not None and end is not None and start >= end:  # backtest_cli's words
        raise UserError(f"--from {args.start} is not before --to {args.end} (--to is exclusive)")
    fmt = detect_format(args.data)
    check_fill_at(args.fill_at, args.data, fmt)
    config = load_config(args.config)
    sha = file_sha256(args.data)
    data_dir(args.data_dir)  # the bars' copy goes under it: made private first
    try:
        cache = bar_cache.ensure(fmt, args.data, args.symbol, cache_dir)
        if cache is not None:
            first, last, _n = bar_cache.span(cache, start, end)
        else:
            first, last, _n = data_span(args.data, args.symbol, start, end, fmt)
        folds = make_folds(first, last, args.walk_forward or 0)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    backtest = {"fill_at": args.fill_at, "fee_bps": args.fee_bps,
                "slippage_bps": args.slippage_bps, "funding_bps": args.funding_bps,
                "initial_balance": args.initial_balance}
    return SearchSpec(
        strategy=args.strategy, dims=[d.to_json() for d in dims], fixed=fixed,
        objective=args.objective or "sharpe", data=str(args.data.resolve()),
        data_sha256=sha, fmt=fmt, symbol=args.symbol,
        folds=[f.to_json() for f in folds], trials=args.trials or DEFAULT_TRIALS,
        seed=args.seed, min_trades=DEFAULT_MIN_TRADES if args.min_trades is None
        else args.min_trades, prune=not args.no_prune,
        backtest={k: v for k, v in backtest.items() if v is not None},
        # what a trial's backtest uses, no more: the storage is read by other machines'
        # workers, and other sections hold URLs that may carry a password or a token
        config=config.model_dump(mode="json", include={"risk", "paper"}),
    )


def _report(args: argparse.Namespace, storage: Any, name: str, spec: Any,
            cache_dir: Path) -> int:
    from tapedesk.engine.paths import data_dir
    from tapedesk.engine.research.bar_cache import ensure
    from tapedesk.engine.research.optimize import best_trials
    from tapedesk.engine.research.optimize_report import build_report, format_report

    data = args.data or Path(spec.data)
    if not data.is_file():
        raise UserError(f"{data}: the search's data file is not there (give --data)")
    cache = ensure(spec.fmt, data, spec.symbol, cache_dir)
    report = build_report(name, spec, best_trials(storage, name, spec), data, cache)
    doc = report.to_json()
    saved = data_dir(args.data_dir) / "optimize" / f"{name}.report.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(format_report(report))
        if args.plot and report.equity:
            from tapedesk.engine.research.plots import equity_plot

            print()
            print(equity_plot(report.equity, title="Out-of-sample equity (folds chained)",
                              start=report.combined.initial_balance if report.combined
                              else float("-inf")))
    print(f"report saved to {saved}", file=sys.stderr)
    if args.write_config:
        _write_config(args, report)
    return 0


def _write_config(args: argparse.Namespace, report: Any) -> None:
    from tapedesk.engine.config import config_dir
    from tapedesk.engine.research.config_writer import ConfigWriteError, write_params

    chosen = [r for r in report.rows if r.params is not None]
    if not chosen:
        raise UserError("--write-config: no parameters were chosen (see the warnings)")
    last = chosen[-1]  # walk-forward: the fold that searched the most (and latest) data
    path: Path = args.config or config_dir() / "config.toml"
    try:
        changes = write_params(path, report.spec.strategy, {**report.spec.fixed, **last.params})
    except ConfigWriteError as exc:
        raise UserError(str(exc)) from None
    if not changes:
        print(f"{path}: [[strategies]] {report.spec.strategy} already has these parameters")
        return
    print(f"{path}: [[strategies]] {report.spec.strategy} params from {last.fold.label}:")
    for line in changes:
        print(f"  {line}")
