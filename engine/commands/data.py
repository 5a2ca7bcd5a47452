"""``tapedesk data download`` / ``tapedesk data list``: Binance's public history, local.

Downloaded months are used with ``--data binance:BTCUSDT:1m:2023-01..2024-06`` (backtest,
``run --replay``). Work lives in ``tapedesk.engine.market_data``; this module only parses.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = sub.add_parser("data", help="download Binance's historical market data; list it")
    actions = d.add_subparsers(dest="data_action", required=True)
    dl = actions.add_parser(
        "download",
        help="fetch months from data.binance.vision (checksummed, resumable)",
        description="Fetch USDT-M klines, mark-price klines or funding-rate history from "
        "Binance's public archive: monthly zips, daily zips and REST for the current month. "
        "Each zip is checked against its published SHA-256; what is stored is skipped; an "
        "interrupted download resumes.",
    )
    dl.add_argument("--symbol", action="append", required=True, help="repeat for several")
    dl.add_argument("--interval", default="1m", help="kline interval (default 1m)")
    dl.add_argument("--from", dest="first", required=True, help="first month, YYYY-MM")
    dl.add_argument("--to", dest="last", help="last month, YYYY-MM (default: --from)")
    dl.add_argument(
        "--kind",
        action="append",
        choices=("klines", "mark", "funding"),
        help="klines (default), mark (mark-price klines), funding (funding-rate history); "
        "repeat for several",
    )
    dl.add_argument("--parallel", type=int, help="files at once (default: config, 4)")
    dl.add_argument("--retries", type=int, default=3, help="attempts per file after the first")
    dl.set_defaults(run_command=_download)
    ls = actions.add_parser("list", help="what is downloaded: series, months, rows, gaps, size")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run_command=_list)


def _root(args: argparse.Namespace) -> Any:
    from tapedesk.engine.market_data.store import market_root
    from tapedesk.engine.paths import data_dir

    return market_root(data_dir(args.data_dir))


def _download(args: argparse.Namespace) -> int:
    import asyncio

    from tapedesk.engine.cli import UserError
    from tapedesk.engine.config import load_config
    from tapedesk.engine.market_data.archive import INTERVALS, months, parse_month, urls
    from tapedesk.engine.market_data.monthly import Job, Outcome, download
    from tapedesk.engine.market_data.store import download_lock
    from tapedesk.engine.metrics import ProgressBar

    config = load_config(args.config)
    if args.interval not in INTERVALS:
        raise UserError(f"--interval {args.interval!r} is not one of {', '.join(INTERVALS)}")
    symbols = []
    for s in args.symbol:
        if not (2 <= len(s) <= 40 and s.isalnum()):
            raise UserError(f"--symbol {s[:40]!r} is not a symbol (letters and digits)")
        symbols.append(s.upper())
    try:
        first = parse_month(args.first, "--from")
        last = parse_month(args.last, "--to") if args.last else first
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if last < first:
        raise UserError(f"--to {args.last} is before --from {args.first}")
    parallel = args.parallel or config.market_data.parallel
    if not 1 <= parallel <= 16 or not 0 <= args.retries <= 10:
        raise UserError("--parallel must be 1..16 and --retries 0..10")
    kinds = list(dict.fromkeys(args.kind or ["klines"]))
    jobs = [Job(k, s, args.interval, m) for s in symbols for k in kinds
            for m in months(first, last)]
    root = _root(args)
    archive_url, rest_url = urls(config.market_data)
    bar = ProgressBar(len(jobs), sys.stderr, unit="")
    done: list[Outcome] = []

    def finished(out: Outcome) -> None:
        done.append(out)
        bar.update(len(done))

    def waiting() -> None:
        print(f"another download is running into {root}: waiting for it", file=sys.stderr)

    with download_lock(root, waiting):
        print(f"downloading {len(jobs)} month(s) from {archive_url} into {root}",
              file=sys.stderr)
        outcomes = asyncio.run(download(jobs, root, archive_url, rest_url, parallel=parallel,
                                        retries=args.retries, on_done=finished))
    bar.close()
    for out in outcomes:
        gaps = f", {out.gaps} gap(s) (see tapedesk data list)" if out.gaps else ""
        print(f"{out.job.label()}: {out.status}: {out.detail}{gaps}")
    failed = [o for o in outcomes if o.status == "failed"]
    absent = [o for o in outcomes if o.status == "absent"]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("stored", "have")}
    print(f"{counts['stored']} stored, {counts['have']} already there, {len(absent)} not in "
          f"the archive, {len(failed)} failed")
    return 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    import json

    from tapedesk.engine.clock import iso
    from tapedesk.engine.feeds.columnar import ColumnsError as StoreError
    from tapedesk.engine.market_data.store import absent_months, header_meta, series

    root = _root(args)
    rows = []
    damaged: list[str] = []
    for kind, symbol, interval, months in series(root):
        metas = []
        for month, p in list(months.items()):
            try:
                metas.append(header_meta(p))
            except (OSError, StoreError) as exc:
                damaged.append(f"{exc}")
                del months[month]
        if not months:
            continue
        gap_list = [g for m in metas for g in m.get("gaps", [])]
        rows.append({
            "kind": kind, "symbol": symbol, "interval": interval,
            "from": min(months), "to": max(months), "months": len(months),
            "rows": sum(m["rows"] for m in metas),
            "bytes": sum(m["bytes"] for m in metas),
            "gaps": sum(m.get("gap_count", 0) for m in metas),
            "gap_bars": sum(m.get("gap_bars", 0) for m in metas),
            "first_gaps": [[iso(t), n] for t, n in gap_list[:3]],
            "partial": [m["month"] for m in metas if not m.get("complete")],
            "absent": sorted(absent_months(root, kind, symbol, interval)),
            "use": f"binance:{symbol}:{interval}:{min(months)}..{max(months)}"
            if kind == "klines" else "",
        })
    for why in damaged:  # fetched again by the next download of that month
        print(f"tapedesk: damaged, not listed: {why} (tapedesk data download fetches it "
              "again)", file=sys.stderr)
    if args.json:
        print(json.dumps({"root": str(root), "series": rows, "damaged": damaged}, indent=2))
        return 0
    if not rows:
        print(f"nothing downloaded under {root} (tapedesk data download --help)")
        return 0
    print(f"{'kind':<8} {'symbol':<10} {'int':<4} {'months':<17} {'rows':>10} {'MB':>7}  gaps")
    for r in rows:
        span = f"{r['from']}..{r['to']}"
        gaps = f"{r['gaps']} ({r['gap_bars']} bars missing)" if r["gaps"] else "none"
        print(f"{r['kind']:<8} {r['symbol']:<10} {r['interval'] or '-':<4} {span:<17} "
              f"{r['rows']:>10,} {r['bytes'] / 1e6:>7.2f}  {gaps}")
        for t, n in r["first_gaps"]:
            print(f"{'':<8} gap at {t} UTC: {n} bars missing")
        if r["partial"]:
            print(f"{'':<8} partial (month not over): {', '.join(r['partial'])}")
        if r["absent"]:
            print(f"{'':<8} not in the archive: {', '.join(r['absent'])}")
        if r["use"]:
            print(f"{'':<8} use: --data {r['use']}")
    print(f"stored under {root}")
    return 0
