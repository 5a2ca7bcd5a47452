"""Attacks on the transfer: SIGKILL mid-file then resume (bit-for-bit equal store), two
download processes on one data dir (no corrupt store, nothing half listed), and the REST
pager meeting 429 + Retry-After, 418, then garbage JSON."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.attacks_data.conftest import EXE, MIN, bars, env_for, ms, store, tapedesk
from tests.attacks_data.scripted_server import ScriptedServer
from tests.market_data.archive_server import ArchiveServer, checksum, kline_csv, zipped

MONTHS = ["2023-01", "2023-02", "2023-03", "2023-04", "2023-05", "2023-06"]


def _noisy_month(y: int, m: int, n: int) -> bytes:
    rnd = random.Random(y * 100 + m)
    bs = bars(ms(y, m), n)
    text = kline_csv(bs, header=True)
    # noise in the volume column so the zip does not shrink to nothing
    lines = text.splitlines()
    lines = [lines[0]] + [ln.replace(",1.5,", f",{rnd.random():.8f},", 1) for ln in lines[1:]]
    return zipped(f"BTCUSDT-1m-{y}-{m:02d}.csv", "\n".join(lines) + "\n")


def _path(month: str) -> str:
    return f"/data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-{month}.zip"


@pytest.fixture
def scripted():
    srv = ScriptedServer()
    srv.base = srv.start()  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def test_sigkill_mid_file_then_resume_stores_the_month_bit_for_bit(
        scripted: ScriptedServer, tmp_path: Path) -> None:
    blob = _noisy_month(2023, 1, 20_000)
    assert len(blob) > 300_000
    p = _path("2023-01")
    scripted.files[p] = blob
    scripted.files[p + ".CHECKSUM"] = checksum(blob, p.rsplit("/", 1)[1])
    scripted.stall.add(p)
    base = scripted.base  # type: ignore[attr-defined]
    args = ["data", "download", "--symbol", "BTCUSDT", "--from", "2023-01"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([str(EXE), *args], env=env_for(killed, base), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert scripted.stalled.wait(30), "the transfer never started"
        partial = killed / "data" / "market" / "partial"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            parts = list(partial.glob("*.part"))
            if parts and parts[0].stat().st_size > 0:
                break
            time.sleep(0.02)
        else:
            pytest.fail("no partial bytes on disk while the transfer stalled")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        scripted.release.set()
    held = parts[0].stat().st_size
    assert 0 < held < len(blob)
    assert not list(store(killed).rglob("*.cols")), "a killed download left a stored month"
    again = tapedesk(*args, home=killed, base=base)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (p, f"bytes={held}-") in scripted.requests, "the second run did not resume"
    clean = tapedesk(*args, home=tmp_path / "clean", base=base)
    assert clean.returncode == 0
    rel = "klines/BTCUSDT/1m/BTCUSDT-1m-2023-01.cols"
    assert (store(killed) / rel).read_bytes() == (store(tmp_path / "clean") / rel).read_bytes()
    assert not list(partial.glob("*.part")), "the partial file outlived the stored month"


def test_two_download_processes_on_one_data_dir_leave_an_intact_store(
        tmp_path: Path) -> None:
    srv = ArchiveServer()
    base = srv.start()
    try:
        for i, month in enumerate(MONTHS):
            blob = _noisy_month(2023, i + 1, 8_000)
            srv.put(_path(month), blob)
        args = ["data", "download", "--symbol", "BTCUSDT", "--from", MONTHS[0], "--to",
                MONTHS[-1], "--parallel", "6"]
        home = tmp_path / "shared"
        procs = [subprocess.Popen([str(EXE), *args], env=env_for(home, base), cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        listings = []
        while any(p.poll() is None for p in procs):
            ls = subprocess.run([str(EXE), "data", "list", "--json"], env=env_for(home, base),
                                cwd=tmp_path, capture_output=True, text=True, timeout=30)
            listings.append(ls)
        outs = [p.communicate() for p in procs]
        for p, (out, err) in zip(procs, outs, strict=True):
            assert "Traceback" not in err, err
            assert p.returncode == 0, out + err
        for ls in listings:
            assert ls.returncode == 0 and "Traceback" not in ls.stderr, ls.stderr
            for s in json.loads(ls.stdout)["series"]:
                assert s["rows"] % 8_000 == 0, f"a half month was listed: {s}"
        clean = tapedesk(*args, home=tmp_path / "clean", base=base)
        assert clean.returncode == 0
        for month in MONTHS:
            rel = f"klines/BTCUSDT/1m/BTCUSDT-1m-{month}.cols"
            assert (store(home) / rel).read_bytes() == (store(tmp_path / "clean") / rel
                                                        ).read_bytes(), month
        assert not [f for f in (home / "data" / "market").rglob("*")
                    if f.name.endswith((".tmp", ".part"))]
    finally:
        srv.stop()


def _this_month() -> tuple[str, int]:
    now = datetime.now(UTC)
    return f"{now.year:04d}-{now.month:02d}", ms(now.year, now.month)


def test_rest_429_then_418_then_garbage_json_is_waited_out_and_stored(
        scripted: ScriptedServer, tmp_path: Path) -> None:
    month, start = _this_month()
    if int(time.time() * 1000) - start < 3 * 3_600_000:
        pytest.skip("too early in the month for closed REST bars")
    scripted.rest_bars = bars(start, 90)
    scripted.rest_script = [
        (429, {"Retry-After": "0"}, b'{"code":-1003,"msg":"Too many requests"}'),
        (418, {"Retry-After": "0"}, b'{"code":-1003,"msg":"banned"}'),
        (200, {}, b"<html>garbage{"),
    ]
    p = tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", month, home=tmp_path,
                 base=scripted.base)  # type: ignore[attr-defined]
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"BTCUSDT 1m klines {month}: stored: 0 daily archives + REST, 90 rows " \
           "(partial: the month is not over)" in p.stdout, p.stdout
    assert not scripted.rest_script


def test_rest_garbage_json_every_time_is_one_failed_line(
        scripted: ScriptedServer, tmp_path: Path) -> None:
    month, start = _this_month()
    scripted.rest_bars = bars(start, 90)
    scripted.rest_script = [(200, {}, b"<html>garbage{")] * 5
    p = tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", month, "--retries", "1",
                 home=tmp_path, base=scripted.base)  # type: ignore[attr-defined]
    assert p.returncode == 1, p.stdout
    line = next(x for x in p.stdout.splitlines() if x.startswith(f"BTCUSDT 1m klines {month}"))
    assert "failed" in line and "REST klines" in line, line
    assert not list(store(tmp_path).rglob("*.cols"))
    assert MIN  # (used by bars)


def test_rest_server_ignoring_start_time_ends_instead_of_paging_forever(
        scripted: ScriptedServer, tmp_path: Path) -> None:
    """A proxy that drops the query string answers page one every time: the pager must stop
    (no progress), not loop while its list grows without end."""
    month, start = _this_month()
    if int(time.time() * 1000) - start < 3 * 3_600_000:
        pytest.skip("too early in the month for closed REST bars")
    from tapedesk.engine.market_data import download as dl_mod

    scripted.rest_bars = bars(start, dl_mod.REST_PAGE + 10)
    scripted.rest_ignores_start = True
    p = tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", month, home=tmp_path,
                 base=scripted.base, timeout=15)  # type: ignore[attr-defined]
    assert "Traceback" not in p.stderr
    rest = [r for r in scripted.requests if r[0] == "/fapi/v1/klines"]
    assert len(rest) <= 3, f"{len(rest)} REST requests for one page of data"


def test_rest_ban_for_an_hour_is_said_not_slept_through_silently(
        scripted: ScriptedServer, tmp_path: Path) -> None:
    """A 418 with ``Retry-After: 3600`` (an IP ban): the download must not hang an hour behind
    a still progress bar; it ends with a line saying the ban and its length."""
    month, start = _this_month()
    scripted.rest_bars = bars(start, 90)
    scripted.rest_script = [(418, {"Retry-After": "3600"}, b'{"code":-1003,"msg":"banned"}')]
    p = tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", month, home=tmp_path,
                 base=scripted.base, timeout=15)  # type: ignore[attr-defined]
    assert p.returncode == 1, p.stdout
    line = next(x for x in p.stdout.splitlines() if x.startswith(f"BTCUSDT 1m klines {month}"))
    assert "failed" in line and "418" in line and "3600" in line, line
