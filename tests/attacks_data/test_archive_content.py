"""Attacks on what the archive serves: HTML error pages with 200, odd .CHECKSUM files,
zips with two CSVs or a differently named CSV, header/no-header months, rows out of order
and duplicated across the month boundary. All through the console script."""

from __future__ import annotations

from pathlib import Path

from tapedesk.engine.feeds.files import iter_events
from tapedesk.engine.market_data.selection import resolve

from tests.attacks_data.conftest import bars, ms, store, tapedesk
from tests.market_data.archive_server import ArchiveServer, kline_csv, zipped

JAN = "/data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01.zip"
FEB = "/data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2023-02.zip"
HTML = b"<html><body><h1>503 Service Unavailable</h1>Try again later</body></html>"


def _dl(home: Path, server: ArchiveServer, *extra: str, to: str = "2023-01"):
    return tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", "2023-01", "--to", to,
                    "--retries", "1", *extra, home=home, base=server.base)  # type: ignore[attr-defined]


def test_html_error_page_with_200_instead_of_the_zip_is_failed_and_nothing_kept(
        server: ArchiveServer, tmp_path: Path) -> None:
    good = zipped("BTCUSDT-1m-2023-01.csv", kline_csv(bars(ms(2023, 1), 120), header=True))
    server.put(JAN, good)
    server.files[JAN] = HTML  # the checksum is the real zip's; the body is an HTML page
    p = _dl(tmp_path, server)
    assert p.returncode == 1, p.stdout
    line = next(x for x in p.stdout.splitlines() if x.startswith("BTCUSDT 1m klines 2023-01"))
    assert "failed" in line and "checksum mismatch" in line, line
    assert not list(store(tmp_path).rglob("*.cols"))
    assert not [f for f in (tmp_path / "data" / "market").rglob("*") if f.is_file()
                and f.suffix == ".part"]


def test_html_page_with_200_instead_of_the_checksum_is_one_failed_line(
        server: ArchiveServer, tmp_path: Path) -> None:
    server.put(JAN, zipped("BTCUSDT-1m-2023-01.csv", kline_csv(bars(ms(2023, 1), 60), True)))
    server.files[JAN + ".CHECKSUM"] = HTML
    p = _dl(tmp_path, server)
    assert p.returncode == 1
    line = next(x for x in p.stdout.splitlines() if x.startswith("BTCUSDT 1m klines 2023-01"))
    assert "failed" in line and "CHECKSUM" in line, line
    assert not list(store(tmp_path).rglob("*.cols"))


def test_checksum_in_uppercase_hex_with_extra_whitespace_and_crlf_is_accepted(
        server: ArchiveServer, tmp_path: Path) -> None:
    blob = zipped("BTCUSDT-1m-2023-01.csv", kline_csv(bars(ms(2023, 1), 90), True))
    server.put(JAN, blob)
    import hashlib

    server.files[JAN + ".CHECKSUM"] = (
        f"  {hashlib.sha256(blob).hexdigest().upper()} \t  BTCUSDT-1m-2023-01.zip  \r\n\r\n"
    ).encode()
    p = _dl(tmp_path, server)
    assert p.returncode == 0, p.stdout
    assert "BTCUSDT 1m klines 2023-01: stored: monthly archive, 90 rows" in p.stdout


def test_checksum_naming_another_file_is_refused_in_one_line(
        server: ArchiveServer, tmp_path: Path) -> None:
    blob = zipped("BTCUSDT-1m-2023-01.csv", kline_csv(bars(ms(2023, 1), 90), True))
    server.put(JAN, blob)
    import hashlib

    server.files[JAN + ".CHECKSUM"] = (
        f"{hashlib.sha256(blob).hexdigest()}  ETHUSDT-1m-2023-01.zip\n").encode()
    p = _dl(tmp_path, server)
    assert p.returncode == 1
    line = next(x for x in p.stdout.splitlines() if x.startswith("BTCUSDT 1m klines 2023-01"))
    assert "names another file" in line and "ETHUSDT-1m-2023-01.zip" in line, line
    assert not list(store(tmp_path).rglob("*.cols"))


def test_zip_with_two_csvs_fails_and_a_differently_named_csv_is_read(
        server: ArchiveServer, tmp_path: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("BTCUSDT-1m-2023-01.csv", kline_csv(bars(ms(2023, 1), 30), True))
        zf.writestr("extra.csv", kline_csv(bars(ms(2023, 1, 2), 30), True))
    server.put(JAN, buf.getvalue())
    server.put(FEB, zipped("renamed by someone.csv", kline_csv(bars(ms(2023, 2), 45), False)))
    p = _dl(tmp_path, server, to="2023-02")
    assert p.returncode == 1
    out = p.stdout.splitlines()
    jan = next(x for x in out if x.startswith("BTCUSDT 1m klines 2023-01"))
    assert "failed" in jan and "holds 2 files" in jan, jan
    assert "BTCUSDT 1m klines 2023-02: stored: monthly archive, 45 rows" in out


def test_header_in_one_month_and_not_the_next_gives_every_bar_once(
        server: ArchiveServer, tmp_path: Path) -> None:
    jan = bars(ms(2023, 1, 31, 23), 60)
    feb = bars(ms(2023, 2), 60, price=jan[-1].close)
    server.put_month("BTCUSDT", "1m", "2023-01", jan, header=True)
    server.put_month("BTCUSDT", "1m", "2023-02", feb, header=False)
    p = _dl(tmp_path, server, to="2023-02")
    assert p.returncode == 0, p.stdout
    got = _bars_of(tmp_path, "binance:BTCUSDT:1m:2023-01..2023-02")
    assert [b.open_ts for b in got] == [b.open_ts for b in jan + feb]
    assert got[0].close == jan[0].close and got[-1].close == feb[-1].close


def test_rows_out_of_order_inside_a_month_are_sorted(
        server: ArchiveServer, tmp_path: Path) -> None:
    jan = bars(ms(2023, 1, 5), 100)
    shuffled = jan[50:] + jan[:50]
    server.put_month("BTCUSDT", "1m", "2023-01", shuffled, header=True)
    p = _dl(tmp_path, server)
    assert p.returncode == 0, p.stdout
    assert "0 gap" not in p.stdout and "gap(s)" not in p.stdout, p.stdout
    got = _bars_of(tmp_path, "binance:BTCUSDT:1m:2023-01")
    assert [b.open_ts for b in got] == [b.open_ts for b in jan]


def test_rows_duplicated_across_the_month_boundary_are_given_once_in_time_order(
        server: ArchiveServer, tmp_path: Path) -> None:
    """January's file ends with February's first bars and February's starts with January's
    last ones (overlapping files): the data used must still be each bar once, in order."""
    jan = bars(ms(2023, 1, 31, 23), 60)
    feb = bars(ms(2023, 2), 60, price=jan[-1].close)
    server.put_month("BTCUSDT", "1m", "2023-01", jan + feb[:3], header=True)
    server.put_month("BTCUSDT", "1m", "2023-02", jan[-3:] + feb, header=False)
    p = _dl(tmp_path, server, to="2023-02")
    assert p.returncode == 0, p.stdout
    got = _bars_of(tmp_path, "binance:BTCUSDT:1m:2023-01..2023-02")
    opens = [b.open_ts for b in got]
    assert opens == sorted(set(opens)), "bars repeated or out of order across the boundary"
    assert opens == [b.open_ts for b in jan + feb]


def _bars_of(home: Path, spec: str) -> list:
    from tapedesk.engine.events import Bar

    sel = resolve(spec, home / "data")
    return [e for e in iter_events(sel) if isinstance(e, Bar)]
