"""What a user runs: ``tapedesk data download`` (pointed at a local archive), ``data list``,
then ``backtest --data binance:...`` giving the very result of the same bars from a CSV."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tapedesk.engine.events import Bar

from tests.market_data.archive_server import ArchiveServer, kline_csv, zipped
from tests.market_data.conftest import JAN1

EXE = Path(sys.executable).with_name("tapedesk")
pytestmark = pytest.mark.skipif(not EXE.exists(), reason=f"console script not installed: {EXE}")


def tapedesk(*args: str, home: Path, base: str | None) -> subprocess.CompletedProcess[str]:
    """The console script; the archive and REST URLs from the env when ``base`` is given."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "cfg"), "XDG_DATA_HOME": str(home / "d"),
           "XDG_STATE_HOME": str(home / "state"), "TAPEDESK_HOME": str(home / "data")}
    env.pop("TAPEDESK_ARCHIVE_URL", None)
    env.pop("TAPEDESK_FAPI_URL", None)
    if base:
        env.update(TAPEDESK_ARCHIVE_URL=base, TAPEDESK_FAPI_URL=base)
    p = subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=120, env=env,
                       cwd=home)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def test_download_list_and_backtest_equal_to_the_csv_of_the_same_bars(
        server: ArchiveServer, sample_bars: list[Bar], tmp_path: Path) -> None:
    base = server.base  # type: ignore[attr-defined]
    dec = [b for b in sample_bars if b.open_ts < JAN1]
    jan = [b for b in sample_bars if b.open_ts >= JAN1]
    del jan[1000:1030]  # a 30-minute hole: reported, never filled
    server.put_month("BTCUSDT", "1m", "2021-12", dec, header=False)
    server.put_month("BTCUSDT", "1m", "2022-01", jan, header=True)
    name = "BTCUSDT-fundingRate-2022-01"
    server.put(f"/data/futures/um/monthly/fundingRate/BTCUSDT/{name}.zip", zipped(
        name + ".csv", "".join(f"{JAN1 + k * 8 * 3_600_000 + 2},8,{r}\n"
                               for k, r in enumerate((0.0001, 0.0003, -0.0002) * 3))))
    dl = tapedesk("data", "download", "--symbol", "BTCUSDT", "--interval", "1m",
                  "--from", "2021-11", "--to", "2022-01", "--kind", "klines", "--kind",
                  "funding", home=tmp_path, base=base)
    assert dl.returncode == 0, dl.stderr
    out = dl.stdout.splitlines()
    assert "BTCUSDT 1m klines 2021-11: absent: does not exist in the archive (HTTP 404)" in out
    assert (f"BTCUSDT 1m klines 2022-01: stored: monthly archive, {len(jan):,} rows, "
            "1 gap(s) (see tapedesk data list)") in out
    assert "BTCUSDT funding 2022-01: stored: monthly archive, 9 rows" in out
    assert "BTCUSDT funding 2021-12: absent: does not exist in the archive (HTTP 404)" in out
    assert out[-1] == "3 stored, 0 already there, 3 not in the archive, 0 failed"
    ls = tapedesk("data", "list", home=tmp_path, base=base)
    assert ls.returncode == 0, ls.stderr
    assert re.search(rf"klines +BTCUSDT +1m +2021-12\.\.2022-01 +{len(dec) + len(jan):,} ",
                     ls.stdout), ls.stdout
    assert "gap at 2022-01-01 16:40:00 UTC: 30 bars missing" in ls.stdout
    assert "not in the archive: 2021-11" in ls.stdout
    assert "use: --data binance:BTCUSDT:1m:2021-12..2022-01" in ls.stdout
    again = tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", "2021-12", "--to",
                     "2022-01", home=tmp_path, base=base)
    assert again.stdout.splitlines()[-1] == "0 stored, 2 already there, 0 not in the archive, " \
                                            "0 failed"

    csv = tmp_path / "BTCUSDT-1m-same.csv"
    csv.write_text(kline_csv(dec + jan, header=True))
    runs = {}
    for name, data in (("store", "binance:BTCUSDT:1m:2021-11..2022-01"), ("csv", str(csv))):
        p = tapedesk("backtest", "--data", data, "--json", home=tmp_path, base=base)
        assert p.returncode == 0, p.stderr
        runs[name] = json.loads(p.stdout)
        assert "BTCUSDT: funding from the downloaded history: 9 rates applied" in p.stderr, \
            p.stderr
        if name == "store":
            assert "1 gaps in the bars (not filled): 2022-01-01" in p.stderr
            assert "2021-11 not in the archive" in p.stderr
    assert runs["store"]["metrics"]["trades"] > 0
    assert runs["store"]["metrics"] == runs["csv"]["metrics"]
    assert runs["store"]["trades"] == runs["csv"]["trades"]


def test_replay_of_downloaded_months_and_one_line_errors(
        server: ArchiveServer, tmp_path: Path, sample_bars: list[Bar]) -> None:
    base = server.base  # type: ignore[attr-defined]
    server.put_month("BTCUSDT", "1m", "2022-01", sample_bars[100:400])
    config = tmp_path / "desk.toml"  # the archive URL from the config this time
    config.write_text(f'[market_data]\narchive_url = "{base}"\nrest_url = "{base}"\n')
    dl = tapedesk("--config", str(config), "data", "download", "--symbol", "BTCUSDT",
                  "--from", "2022-01", home=tmp_path, base=None)
    assert dl.returncode == 0, dl.stderr
    assert f"from {base} into" in dl.stderr
    assert dl.stdout.splitlines()[-1] == "1 stored, 0 already there, 0 not in the archive, " \
                                         "0 failed"
    run = tapedesk("run", "--headless", "--speed", "0", "--replay", "binance:BTCUSDT:1m",
                   home=tmp_path, base=base)
    assert run.returncode == 0, run.stderr
    assert "of 300 bars" in run.stdout, run.stdout[-800:]
    for args, says in (
        (("--from", "2022-13"), "--from '2022-13' is not a month (YYYY-MM, from 2017)"),
        (("--from", "2022-02", "--to", "2022-01"), "--to 2022-01 is before --from 2022-02"),
        (("--from", "2022-01", "--interval", "7m"), "--interval '7m' is not one of 1m, 3m"),
    ):
        p = tapedesk("data", "download", "--symbol", "BTCUSDT", *args, home=tmp_path,
                     base=base)
        assert p.returncode == 2 and p.stderr.startswith(f"tapedesk: {says}"), p.stderr
        assert len(p.stderr.splitlines()) == 1
    p = tapedesk("backtest", "--data", "binance:BTCUSDT:1m:2022-01..2022-03", home=tmp_path,
                 base=base)
    assert p.returncode == 2
    assert "binance:BTCUSDT:1m:2022-01..2022-03: not downloaded: 2022-02, 2022-03 (tapedesk " \
           "data download --symbol BTCUSDT --interval 1m --from 2022-02 --to 2022-03)" in p.stderr
