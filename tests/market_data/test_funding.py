"""Funding from the downloaded history: Binance's rates, at each funding time, through the
paper venue's one funding rule (positive rate: longs pay, shorts receive)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from tapedesk.engine.events import Bar, Kind, OrderIntent, OrderRole, OrderType
from tapedesk.engine.market_data.monthly import Job, download
from tapedesk.engine.market_data.selection import resolve, selection_events
from tapedesk.engine.market_data.store import market_root
from tapedesk.engine.paper_venue import PaperVenue

from tests.market_data.archive_server import ArchiveServer, zipped
from tests.market_data.conftest import DAY, JAN1

H8 = 8 * 3_600_000
# Rates as the archive publishes them: calc_time a few ms past the funding time.
RATES = [0.0001, 0.00025, -0.0003, 0.0001, 0.000052, -0.00001, 0.0002, 0.00015, 0.0001]


class Sink:
    def __init__(self) -> None:
        self.funding: list[tuple[int, Decimal, float]] = []

    def on_fill(self, fill: object) -> None:
        pass

    def on_order_update(self, update: object) -> None:
        pass

    def on_funding(self, symbol: str, amount: Decimal, rate: float, ts: int) -> None:
        self.funding.append((ts, amount, rate))

    def on_venue_error(self, text: str) -> None:
        raise AssertionError(text)


@pytest.fixture
def stored(server: ArchiveServer, sample_bars: list[Bar], tmp_path: Path) -> Path:
    jan = [b for b in sample_bars if b.open_ts >= JAN1]
    server.put_month("BTCUSDT", "1m", "2022-01", jan)
    csv = "calc_time,funding_interval_hours,last_funding_rate\n" + "".join(
        f"{JAN1 + k * H8 + 3 + k},8,{r}\n" for k, r in enumerate(RATES))
    name = "BTCUSDT-fundingRate-2022-01"
    server.put(f"/data/futures/um/monthly/fundingRate/BTCUSDT/{name}.zip",
               zipped(name + ".csv", csv))
    root = market_root(tmp_path)
    jobs = [Job("klines", "BTCUSDT", "1m", (2022, 1)), Job("funding", "BTCUSDT", "", (2022, 1))]
    outs = asyncio.run(download(jobs, root, server.base, server.base,  # type: ignore[attr-defined]
                                backoff=0.0, now_ms=JAN1 + 40 * DAY))
    assert [o.status for o in outs] == ["stored", "stored"], [o.detail for o in outs]
    return resolve("binance:BTCUSDT:1m:2022-01", data=tmp_path)


@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_downloaded_rates_are_charged_at_each_funding_time(stored: Path, side: str) -> None:
    venue = PaperVenue(Decimal(100_000), latency_ms=0, slippage_bps=0,
                       assumed_funding_bps_8h=1.0)  # the assumed rate must NOT be used
    sink = Sink()
    venue.bind(sink)
    notes: list[str] = []
    events = list(selection_events(stored, start_ms=JAN1 + 10 * 60_000, warn=notes.append))
    closes = {e.ts: e.close for e in events if e.kind is Kind.BAR}
    first = events[0]
    venue.on_market(first)
    venue.submit(OrderIntent("t1", "BTCUSDT", side, OrderType.MARKET, Decimal("0.5"),
                             OrderRole.ENTRY, first.ts))
    for ev in events[1:]:
        venue.on_market(ev)
    # The first funding time (00:00) is before the window (starts 00:10): 8 charged.
    assert [ts for ts, _, _ in sink.funding] == [JAN1 + k * H8 for k in range(1, 9)]
    sign = 1 if side == "BUY" else -1
    for k, (ts, amount, rate) in enumerate(sink.funding, 1):
        assert rate == RATES[k]
        mark = Decimal(str(closes[ts - 1]))  # valued at the last close before funding
        want = (-sign * Decimal("0.5") * mark * Decimal(str(RATES[k]))).quantize(
            Decimal("0.00000001"))
        assert amount == want
        # Positive rate: the long pays (negative amount), the short receives.
        assert (amount < 0) == (sign * RATES[k] > 0)
    assert notes and ("funding from the downloaded history: 8 rates applied, valued at the "
                      "last close") in notes[0]


def test_funding_is_valued_at_downloaded_mark_price_klines(
        stored: Path, server: ArchiveServer, sample_bars: list[Bar], tmp_path: Path) -> None:
    marks = [Bar(b.symbol, b.open_ts, b.ts, b.open * 1.01, b.high * 1.01, b.low * 1.01,
                 b.close * 1.01, 0.0) for b in sample_bars if b.open_ts >= JAN1]
    server.put_month("BTCUSDT", "1m", "2022-01", marks, kind="markPriceKlines")
    outs = asyncio.run(download([Job("mark", "BTCUSDT", "1m", (2022, 1))], market_root(tmp_path),
                                server.base, server.base,  # type: ignore[attr-defined]
                                backoff=0.0, now_ms=JAN1 + 40 * DAY))
    assert outs[0].status == "stored", outs[0].detail
    notes: list[str] = []
    events = [e for e in selection_events(stored, warn=notes.append) if e.kind is Kind.MARK
              and e.next_funding_ts == e.ts + 1]  # the rates (not the next-time announcements)
    mark_close = {b.ts + 1: b.close for b in marks}
    # The month's first funding (00:00) is before the first bar (00:00-00:01): not charged.
    assert [e.ts for e in events] == [JAN1 + k * H8 - 1 for k in range(1, 9)]
    assert [e.mark for e in events] == [mark_close[JAN1 + k * H8] for k in range(1, 9)]
    assert [e.funding_rate for e in events] == RATES[1:]
    assert "valued at mark-price klines" in notes[0]
