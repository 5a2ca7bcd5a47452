"""One month of one series: fetched (monthly zip, or daily zips + REST for the current
month), parsed, checked and stored; and ``download`` running many months in parallel.

A month that is complete on disk is skipped. The current month is stored as *partial*
(from the daily zips published so far plus REST for the latest days) and fetched again
next time. A month the archive does not have is recorded and said, not treated as empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
from tapedesk.engine.market_data.archive import (
    Month,
    daily_file,
    interval_ms,
    month_of_ms,
    month_start_ms,
    month_text,
    monthly_file,
    next_month,
)
from tapedesk.engine.market_data.download import DownloadError, Fetcher
from tapedesk.engine.market_data.parse import (
    ArchiveError,
    Parsed,
    funding_rows,
    kline_rows,
    rest_rows,
    zip_text,
)
from tapedesk.engine.market_data.store import (
    header_meta,
    month_path,
    partial_dir,
    save_month,
    set_absent,
)


@dataclass(frozen=True)
class Job:
    kind: str
    symbol: str
    interval: str
    month: Month

    def label(self) -> str:
        what = "funding" if self.kind == "funding" else f"{self.interval} {self.kind}"
        return f"{self.symbol} {what} {month_text(self.month)}"


@dataclass
class Outcome:
    job: Job
    status: str  # stored | have | absent | failed
    detail: str = ""
    rows: int = 0
    gaps: int = 0


async def fetch_month(fetcher: Fetcher, root: Path, job: Job, now_ms: int) -> Outcome:
    path = month_path(root, job.kind, job.symbol, job.interval, job.month)
    if path.exists():
        try:
            meta = header_meta(path)
        except Exception:  # a damaged store file is fetched again
            meta = {}
        if meta.get("complete"):
            return Outcome(job, "have", "already stored", meta.get("rows", 0),
                           meta.get("gap_count", 0))
    current = job.month >= month_of_ms(now_ms)
    if job.month > month_of_ms(now_ms):
        return Outcome(job, "absent", "in the future")
    if current and job.kind == "funding":
        return Outcome(job, "absent", "the current month's funding history is published "
                                      "when the month ends")
    try:
        if current:
            parsed, source = await _current_month(fetcher, job, now_ms)
        else:
            af = monthly_file(job.kind, job.symbol, job.interval, job.month)
            blob = await fetcher.archive_file(af)
            if blob is None:
                set_absent(root, job.kind, job.symbol, job.interval, month_text(job.month),
                           "not in the archive (HTTP 404)")
                return Outcome(job, "absent", "does not exist in the archive (HTTP 404)")
            try:
                parsed = _parse(job.kind, zip_text(blob, af.name))
            finally:
                fetcher.forget(af)  # verified but unusable, or stored below: not kept
            source = "monthly archive"
    except (DownloadError, ArchiveError) as exc:
        return Outcome(job, "failed", str(exc))
    _keep_month(parsed, job.month)
    if not parsed.rows:
        why = "no rows" + (f" ({parsed.first_problem})" if parsed.first_problem else "")
        return Outcome(job, "absent" if current else "failed", why)
    save_month(path, parsed.rows, job.kind, job.interval, {
        "symbol": job.symbol, "kind": job.kind, "interval": job.interval,
        "month": month_text(job.month), "source": source, "complete": not current,
        "skipped_rows": parsed.skipped,
    })
    set_absent(root, job.kind, job.symbol, job.interval, month_text(job.month), None)
    meta = header_meta(path)
    detail = f"{source}, {meta['rows']:,} rows"
    if parsed.skipped:
        detail += f", {parsed.skipped} bad rows skipped ({parsed.first_problem})"
    if current:
        detail += " (partial: the month is not over)"
    return Outcome(job, "stored", detail, meta["rows"], meta.get("gap_count", 0))


def _keep_month(parsed: Parsed, month: Month) -> None:
    """Rows of ``month`` only: a file that strays into the next or previous month would put
    those bars in two stored months, and a backtest across them would see them twice."""
    lo, hi = month_start_ms(month), month_start_ms(next_month(month))
    kept = [r for r in parsed.rows if lo <= r[0] < hi]
    if len(kept) != len(parsed.rows):
        parsed.skip(0, f"{len(parsed.rows) - len(kept)} rows outside {month_text(month)}")
        parsed.skipped += len(parsed.rows) - len(kept) - 1
        parsed.rows = kept


def _parse(kind: str, text: str) -> Parsed:
    return funding_rows(text) if kind == "funding" else kline_rows(text)


async def _current_month(fetcher: Fetcher, job: Job, now_ms: int) -> tuple[Parsed, str]:
    """Daily zips for the days already published, then REST up to the last closed bar."""
    first = date(job.month[0], job.month[1], 1)
    today = datetime.fromtimestamp(now_ms / 1000, tz=UTC).date()
    days = [first + timedelta(d) for d in range((today - first).days)]
    files = [daily_file(job.kind, job.symbol, job.interval, d) for d in days]
    blobs = await asyncio.gather(*(fetcher.archive_file(af) for af in files))
    parsed = Parsed()
    used = 0
    for af, blob in zip(files, blobs, strict=True):
        if blob is None:
            break  # not published yet: REST takes over from here
        p = kline_rows(zip_text(blob, af.name))
        fetcher.forget(af)
        parsed.rows.extend(p.rows)
        parsed.skipped += p.skipped
        parsed.first_problem = parsed.first_problem or p.first_problem
        used += 1
    step = interval_ms(job.interval)
    start = parsed.rows[-1][0] + step if parsed.rows else month_start_ms(job.month)
    end = min(month_start_ms(next_month(job.month)), now_ms)
    if job.kind == "klines" and start < end:
        rest = rest_rows(await fetcher.rest_klines(job.symbol, job.interval, start, end, step,
                                                   now_ms))
        parsed.rows.extend(rest.rows)
        parsed.skipped += rest.skipped
        source = f"{used} daily archives + REST"
    else:
        source = f"{used} daily archives"
    return parsed, source


async def download(jobs: list[Job], root: Path, archive_url: str, rest_url: str, *,
                   parallel: int = 4, retries: int = 3, backoff: float = 1.0,
                   now_ms: int | None = None,
                   on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run ``jobs`` concurrently (``parallel`` transfers at a time), in the given order."""
    import time

    now = int(time.time() * 1000) if now_ms is None else now_ms
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        fetcher = Fetcher(session, archive_url, rest_url, partial_dir(root), parallel=parallel,
                          retries=retries, backoff=backoff)

        async def one(job: Job) -> Outcome:
            out = await fetch_month(fetcher, root, job, now)
            if on_done is not None:
                on_done(out)
            return out

        return list(await asyncio.gather(*(one(j) for j in jobs)))
