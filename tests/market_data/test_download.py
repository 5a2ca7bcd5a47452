"""Downloads against a local archive on 127.0.0.1: checksums, absent months, corrupt files,
a connection cut mid-file and its resume, the current month from daily zips + REST."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tapedesk.engine.events import Bar
from tapedesk.engine.market_data.monthly import Job, download
from tapedesk.engine.market_data.store import (
    absent_months,
    header_meta,
    market_root,
    month_bars,
    month_path,
    partial_dir,
)

from tests.market_data.archive_server import ArchiveServer, kline_csv, zipped
from tests.market_data.conftest import DAY, JAN1

NOW = JAN1 + 40 * DAY  # February 2022: December and January are past months


def _run(server: ArchiveServer, root: Path, jobs: list[Job], retries: int = 1,
         now: int = NOW) -> dict[str, tuple[str, str]]:
    outs = asyncio.run(download(jobs, root, server.base, server.base,  # type: ignore[attr-defined]
                                retries=retries, backoff=0.0, now_ms=now))
    return {o.job.label(): (o.status, o.detail) for o in outs}


def _jobs(*months: tuple[int, int], kind: str = "klines") -> list[Job]:
    return [Job(kind, "BTCUSDT", "1m", m) for m in months]


def _values(bars: list[Bar]) -> list[tuple]:
    return [(b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars]


def test_months_download_verified_absent_month_said_and_stored_months_skipped(
        server: ArchiveServer, sample_bars: list[Bar], tmp_path: Path) -> None:
    dec = [b for b in sample_bars if b.open_ts < JAN1]
    jan = [b for b in sample_bars if b.open_ts >= JAN1]
    server.put_month("BTCUSDT", "1m", "2021-12", dec, header=False)  # old files: no header
    server.put_month("BTCUSDT", "1m", "2022-01", jan, header=True)
    root = market_root(tmp_path)
    got = _run(server, root, _jobs((2021, 11), (2021, 12), (2022, 1)))
    assert got["BTCUSDT 1m klines 2021-11"][0] == "absent"
    assert "does not exist in the archive (HTTP 404)" in got["BTCUSDT 1m klines 2021-11"][1]
    assert got["BTCUSDT 1m klines 2021-12"][0] == "stored"
    assert got["BTCUSDT 1m klines 2022-01"] == ("stored", f"monthly archive, {len(jan):,} rows")
    assert absent_months(root, "klines", "BTCUSDT", "1m") == {
        "2021-11": "not in the archive (HTTP 404)"}
    stored = [month_bars(month_path(root, "klines", "BTCUSDT", "1m", m), "BTCUSDT", "1m")
              for m in ((2021, 12), (2022, 1))]
    assert _values(stored[0] + stored[1]) == _values(dec + jan)  # bit-for-bit the same bars
    assert not list(partial_dir(root).iterdir())  # nothing half-kept
    server.requests.clear()
    again = _run(server, root, _jobs((2021, 12), (2022, 1)))
    assert {s for s, _ in again.values()} == {"have"}
    assert server.requests == []  # skipped without asking the server


def test_corrupt_zip_and_checksum_mismatch_keep_nothing(
        server: ArchiveServer, sample_bars: list[Bar], tmp_path: Path) -> None:
    good = zipped("BTCUSDT-1m-2022-01.csv", kline_csv(sample_bars[100:200], True))
    corrupt = good[:40] + b"\x00" * 64 + good[104:]  # published so: checksum passes
    base = "/data/futures/um/monthly/klines/BTCUSDT/1m/"
    server.put(base + "BTCUSDT-1m-2022-01.zip", corrupt)
    server.put(base + "BTCUSDT-1m-2021-12.zip", good, published=good + b"x")  # mismatch
    root = market_root(tmp_path)
    got = _run(server, root, _jobs((2021, 12), (2022, 1)))
    status, why = got["BTCUSDT 1m klines 2022-01"]
    assert status == "failed", why
    assert why.startswith("BTCUSDT-1m-2022-01.zip: ") and "not a readable zip" in why, why
    status, why = got["BTCUSDT 1m klines 2021-12"]
    assert status == "failed" and "checksum mismatch" in why and "deleted" in why
    # Retried once from scratch (two full GETs), then given up; nothing stored or kept.
    gets = [p for p, _ in server.requests if p == base + "BTCUSDT-1m-2021-12.zip"]
    assert len(gets) == 2
    assert not month_path(root, "klines", "BTCUSDT", "1m", (2022, 1)).exists()
    assert not month_path(root, "klines", "BTCUSDT", "1m", (2021, 12)).exists()
    assert not list(partial_dir(root).iterdir())


def test_connection_cut_mid_file_resumes_with_range(
        server: ArchiveServer, sample_bars: list[Bar], tmp_path: Path) -> None:
    jan = [b for b in sample_bars if b.open_ts >= JAN1]
    path = server.put_month("BTCUSDT", "1m", "2022-01", jan)
    size = len(server.files[path])
    server.cut_once.add(path)
    root = market_root(tmp_path)
    # First run gives up at once (no retries): the half file stays, for the next run.
    got = _run(server, root, _jobs((2022, 1)), retries=0)
    status, why = got["BTCUSDT 1m klines 2022-01"]
    assert status == "failed" and "transfer interrupted" in why
    part = partial_dir(root) / "monthly_klines_BTCUSDT_1m_BTCUSDT-1m-2022-01.zip.part"
    kept = part.stat().st_size
    assert 0 < kept < size
    assert not month_path(root, "klines", "BTCUSDT", "1m", (2022, 1)).exists()
    got = _run(server, root, _jobs((2022, 1)), retries=0)
    assert got["BTCUSDT 1m klines 2022-01"][0] == "stored"
    assert (path, f"bytes={kept}-") in server.requests  # only the rest was asked for
    assert not part.exists()
    bars = month_bars(month_path(root, "klines", "BTCUSDT", "1m", (2022, 1)), "BTCUSDT", "1m")
    assert _values(bars) == _values(jan)


def test_cut_within_one_run_is_retried_from_where_it_stopped(
        server: ArchiveServer, sample_bars: list[Bar], tmp_path: Path) -> None:
    path = server.put_month("BTCUSDT", "1m", "2022-01", sample_bars[:3000])
    server.cut_once.add(path)
    got = _run(server, market_root(tmp_path), _jobs((2022, 1)), retries=2)
    assert got["BTCUSDT 1m klines 2022-01"][0] == "stored"
    ranges = [r for p, r in server.requests if p == path]
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")


def test_current_month_from_daily_zips_then_rest_paged_through_a_rate_limit(
        server: ArchiveServer, sample_bars: list[Bar], tmp_path: Path) -> None:
    now = JAN1 + 2 * DAY + 12 * 3_600_000 + 30_000  # 2022-01-03 12:00:30
    for day in (1, 2):
        lo, hi = JAN1 + (day - 1) * DAY, JAN1 + day * DAY
        name = f"BTCUSDT-1m-2022-01-0{day}"
        blob = zipped(name + ".csv", kline_csv(
            [b for b in sample_bars if lo <= b.open_ts < hi], header=day == 2))
        server.put(f"/data/futures/um/daily/klines/BTCUSDT/1m/{name}.zip", blob)
    server.rest_bars = [b for b in sample_bars if b.open_ts >= JAN1 + 2 * DAY]
    server.rate_limit_once = True
    root = market_root(tmp_path)
    got = _run(server, root, _jobs((2022, 1)), retries=2, now=now)
    status, detail = got["BTCUSDT 1m klines 2022-01"]
    assert status == "stored" and "2 daily archives + REST" in detail and "partial" in detail
    path = month_path(root, "klines", "BTCUSDT", "1m", (2022, 1))
    want = [b for b in sample_bars if b.open_ts >= JAN1 and b.ts < now]  # closed bars only
    assert _values(month_bars(path, "BTCUSDT", "1m")) == _values(want)
    assert header_meta(path)["complete"] is False
    rest = [p for p, _ in server.requests if p == "/fapi/v1/klines"]
    assert len(rest) >= 2  # the 429, then the pages (720 bars: one page of 1,500)
    # Next time the partial month is fetched again (it is not "have").
    got = _run(server, root, _jobs((2022, 1)), retries=2, now=now)
    assert got["BTCUSDT 1m klines 2022-01"][0] == "stored"

