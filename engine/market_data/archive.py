"""Binance's public USDT-M data archive (data.binance.vision): what exists where.

Layout (``<base>/data/futures/um/...``)::

    monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip             (+ .zip.CHECKSUM)
    daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-06-03.zip            (the current month)
    monthly/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip
    monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-01.zip  (monthly only)

A ``.CHECKSUM`` holds ``<sha256 hex>  <file name>``. The archive's base URL and the REST
base (``/fapi/v1/klines`` for the days the archive has not published yet) come from the
``[market_data]`` config section, overridden by ``$TAPEDESK_ARCHIVE_URL`` /
``$TAPEDESK_FAPI_URL`` (tests point both at 127.0.0.1).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pydantic import Field
from tapedesk.engine.config_section import Section

#: ``--kind`` names → the archive's folder names.
KINDS = {"klines": "klines", "mark": "markPriceKlines", "funding": "fundingRate"}
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


class MarketDataConfig(Section):
    """``[market_data]``: where historical data is downloaded from (a value assigned later
    is checked as the file's is: ``Section``)."""

    archive_url: str = Field("https://data.binance.vision", pattern=r"^https?://\S+$")
    rest_url: str = Field("https://fapi.binance.com", pattern=r"^https?://\S+$")
    parallel: int = Field(4, ge=1, le=16)


def urls(config: MarketDataConfig | None = None) -> tuple[str, str]:
    """(archive base, REST base): env vars win over the config."""
    cfg = config or MarketDataConfig()
    archive = os.environ.get("TAPEDESK_ARCHIVE_URL") or cfg.archive_url
    rest = os.environ.get("TAPEDESK_FAPI_URL") or cfg.rest_url
    return archive.rstrip("/"), rest.rstrip("/")


def interval_ms(interval: str) -> int:
    return int(interval[:-1]) * _UNIT_MS[interval[-1]]


Month = tuple[int, int]


def parse_month(text: str, what: str) -> Month:
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2017:
        raise ValueError(f"{what} {text!r} is not a month (YYYY-MM, from 2017)")
    return int(m.group(1)), int(m.group(2))


def month_text(month: Month) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


def months(first: Month, last: Month) -> list[Month]:
    out, (y, m) = [], first
    while (y, m) <= last:
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def month_start_ms(month: Month) -> int:
    return int(datetime(month[0], month[1], 1, tzinfo=UTC).timestamp() * 1000)


def next_month(month: Month) -> Month:
    return (month[0] + 1, 1) if month[1] == 12 else (month[0], month[1] + 1)


def month_of_ms(ms: int) -> Month:
    d = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return d.year, d.month


@dataclass(frozen=True)
class ArchiveFile:
    """One zip in the archive and its checksum, relative to the archive base."""

    path: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def checksum_path(self) -> str:
        return self.path + ".CHECKSUM"


def monthly_file(kind: str, symbol: str, interval: str, month: Month) -> ArchiveFile:
    folder = KINDS[kind]
    if kind == "funding":
        return ArchiveFile(f"data/futures/um/monthly/{folder}/{symbol}/"
                           f"{symbol}-fundingRate-{month_text(month)}.zip")
    return ArchiveFile(f"data/futures/um/monthly/{folder}/{symbol}/{interval}/"
                       f"{symbol}-{interval}-{month_text(month)}.zip")


def daily_file(kind: str, symbol: str, interval: str, day: date) -> ArchiveFile:
    return ArchiveFile(f"data/futures/um/daily/{KINDS[kind]}/{symbol}/{interval}/"
                       f"{symbol}-{interval}-{day.isoformat()}.zip")


def parse_checksum(text: str, name: str) -> str:
    """The sha256 hex from a ``.CHECKSUM`` file; ValueError when it is not one."""
    parts = text.split()
    if not parts or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
        raise ValueError(f"{name}.CHECKSUM does not hold a sha256")
    if len(parts) > 1 and parts[1].lstrip("*") != name:
        raise ValueError(f"{name}.CHECKSUM names another file ({parts[1][:60]})")
    return parts[0].lower()
