from __future__ import annotations

from collections.abc import Iterator

import pytest
from tapedesk.engine.events import Bar

from tests.market_data.archive_server import ArchiveServer

JAN1 = 1_640_995_200_000  # 2022-01-01 00:00 UTC
DAY = 86_400_000


@pytest.fixture(scope="session")
def sample_bars() -> list[Bar]:
    """The bundled real 1m sample, 2021-12-31 23:01 → 2022-01-04 00:00 (a slice)."""
    from tapedesk.engine.feeds.files import load_bars
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M

    return [b for b in load_bars(SAMPLE_BARS_1M, end_ms=JAN1 + 3 * DAY)]


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    srv = ArchiveServer()
    srv.base = srv.start()  # type: ignore[attr-defined]
    yield srv
    srv.stop()
