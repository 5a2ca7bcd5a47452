"""Shared fixtures: the real 1m month, loaded once per test session."""

from __future__ import annotations

import pytest

from tests.strategies import realdata


@pytest.fixture(scope="session")
def bars_1m():
    if not realdata.KLINES_1M.exists():
        pytest.skip(f"real data not found at {realdata.KLINES_1M} (set TAPEDESK_SHARED_DATA)")
    return realdata.load_1m()


@pytest.fixture(scope="session")
def usdm_btc_events():
    if not realdata.USDM_BTC.exists():
        pytest.skip(f"stream capture not found at {realdata.USDM_BTC}")
    return realdata.load_stream(realdata.USDM_BTC)
