"""A stored month damaged on disk (truncated data behind an intact header, or garbage):
``data list`` names it instead of failing as 'a bug', ``data download`` fetches it again
instead of calling it 'already stored', and a backtest names the file once."""

from __future__ import annotations

from pathlib import Path

from tests.attacks_data.conftest import bars, ms, store, tapedesk
from tests.market_data.archive_server import ArchiveServer

REL = "klines/BTCUSDT/1m/BTCUSDT-1m-2023-01.cols"


def _download(home: Path, server: ArchiveServer):
    return tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", "2023-01", "--to",
                    "2023-02", home=home, base=server.base)  # type: ignore[attr-defined]


def test_truncated_month_is_named_by_list_and_fetched_again(server: ArchiveServer,
                                                            tmp_path: Path) -> None:
    server.put_month("BTCUSDT", "1m", "2023-01", bars(ms(2023, 1), 600), True)
    server.put_month("BTCUSDT", "1m", "2023-02", bars(ms(2023, 2), 600), True)
    assert _download(tmp_path, server).returncode == 0
    f = store(tmp_path) / REL
    good = f.read_bytes()
    f.write_bytes(good[:-40])  # the header intact, the last column cut short
    ls = tapedesk("data", "list", home=tmp_path)
    assert "a bug" not in ls.stderr, ls.stderr
    assert "BTCUSDT-1m-2023-01.cols" in ls.stdout + ls.stderr and "damaged" in (
        ls.stdout + ls.stderr), ls.stdout + ls.stderr
    assert "2023-02" in ls.stdout  # the intact month is still listed
    bt = tapedesk("backtest", "--data", "binance:BTCUSDT:1m:2023-01..2023-02", "--no-progress",
                  home=tmp_path)
    assert bt.returncode == 2
    assert bt.stderr.count("BTCUSDT-1m-2023-01.cols") == 1, bt.stderr
    again = _download(tmp_path, server)
    assert again.returncode == 0
    assert "BTCUSDT 1m klines 2023-01: stored: monthly archive, 600 rows" in again.stdout, \
        again.stdout
    assert "BTCUSDT 1m klines 2023-02: have: already stored" in again.stdout
    assert f.read_bytes() == good


def test_garbage_month_file_is_named_by_list(server: ArchiveServer, tmp_path: Path) -> None:
    server.put_month("BTCUSDT", "1m", "2023-01", bars(ms(2023, 1), 60), True)
    assert _download(tmp_path, server).returncode == 0
    (store(tmp_path) / REL).write_bytes(b"garbage")
    ls = tapedesk("data", "list", home=tmp_path)
    assert "a bug" not in ls.stderr, ls.stderr
    assert "damaged" in ls.stdout + ls.stderr
