"""Shared parts of the data-download attacks: the local archive server (tests/market_data's),
synthetic months of bars, and the console script with its data dir in a temp folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tapedesk.engine.events import Bar

from tests.market_data.archive_server import ArchiveServer

EXE = Path(sys.executable).with_name("tapedesk")
MIN = 60_000


def ms(y: int, m: int, d: int = 1, h: int = 0) -> int:
    return int(datetime(y, m, d, h, tzinfo=UTC).timestamp() * 1000)


def bars(start_ms: int, n: int, symbol: str = "BTCUSDT", price: float = 20000.0) -> list[Bar]:
    """``n`` 1m bars from ``start_ms``: a gentle zig-zag so strategies trade a little."""
    out = []
    for i in range(n):
        p = price + (i % 40 - 20) * 5.0 + i * 0.1
        out.append(Bar(symbol, start_ms + i * MIN, start_ms + (i + 1) * MIN - 1, p, p + 3.0,
                       p - 3.0, p + 1.0, 1.5))
    return out


def env_for(home: Path, base: str | None) -> dict[str, str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "cfg"),
           "XDG_DATA_HOME": str(home / "d"), "XDG_STATE_HOME": str(home / "state"),
           "TAPEDESK_HOME": str(home / "data")}
    env.pop("TAPEDESK_ARCHIVE_URL", None)
    env.pop("TAPEDESK_FAPI_URL", None)
    if base:
        env.update(TAPEDESK_ARCHIVE_URL=base, TAPEDESK_FAPI_URL=base)
    return env


def tapedesk(*args: str, home: Path, base: str | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    p = subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout,
                       env=env_for(home, base), cwd=home)
    assert "Traceback" not in p.stderr + p.stdout, p.stderr
    return p


def store(home: Path) -> Path:
    return home / "data" / "market" / "binance-um"


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    if not EXE.exists():
        pytest.skip(f"console script not installed: {EXE}")
    srv = ArchiveServer()
    srv.base = srv.start()  # type: ignore[attr-defined]
    yield srv
    srv.stop()
