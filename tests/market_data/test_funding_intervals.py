"""Downloaded funding history of symbols that fund every 4 h or 1 h: every real record is
charged, at its time, by the paper venue's one funding rule (not only the 8-hour marks)."""

from __future__ import annotations

import asyncio
import json
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
from tests.market_data.test_console import tapedesk
from tests.market_data.test_funding import Sink

H = 3_600_000
Q = Decimal("0.00000001")


def store(server: ArchiveServer, bars: list[Bar], root: Path,
          records: list[tuple[int, int, float]]) -> None:
    """Klines and funding history (time, interval hours, rate) downloaded into ``root``."""
    server.put_month("BTCUSDT", "1m", "2022-01", [b for b in bars if b.open_ts >= JAN1])
    csv = "calc_time,funding_interval_hours,last_funding_rate\n" + "".join(
        f"{t + 4},{h},{r}\n" for t, h, r in records)  # calc_time a few ms late, as published
    name = "BTCUSDT-fundingRate-2022-01"
    server.put(f"/data/futures/um/monthly/fundingRate/BTCUSDT/{name}.zip",
               zipped(name + ".csv", csv))
    jobs = [Job("klines", "BTCUSDT", "1m", (2022, 1)), Job("funding", "BTCUSDT", "", (2022, 1))]
    outs = asyncio.run(download(jobs, market_root(root), server.base, server.base,  # type: ignore[attr-defined]
                                backoff=0.0, now_ms=JAN1 + 40 * DAY))
    assert [o.status for o in outs] == ["stored", "stored"], [o.detail for o in outs]


FOUR_H = [(JAN1 + k * 4 * H, 4, (0.0001, 0.0002, -0.00005)[k % 3]) for k in range(18)]
# 4 h on Jan 1, then back to 8 h: no funding at 04:00 or 12:00 on Jan 2.
LENGTHENED = FOUR_H[:7] + [(JAN1 + DAY + h * H, 8, 0.0001 * (h // 8 + 1)) for h in range(8, 48, 8)]


@pytest.mark.parametrize("records", [FOUR_H, LENGTHENED], ids=["4h", "4h-then-8h"])
def test_a_symbols_history_is_charged_at_every_record_and_nowhere_else(
        server: ArchiveServer, sample_bars: list[Bar], tmp_path: Path,
        records: list[tuple[int, int, float]]) -> None:
    store(server, sample_bars, tmp_path, records)
    venue = PaperVenue(Decimal(100_000), latency_ms=0, slippage_bps=0,
                       assumed_funding_bps_8h=1.0)
    sink = Sink()
    venue.bind(sink)
    events = list(selection_events(resolve("binance:BTCUSDT:1m:2022-01", data=tmp_path),
                                   start_ms=JAN1 + 10 * 60_000))
    closes = {e.ts: e.close for e in events if e.kind is Kind.BAR}
    venue.on_market(events[0])
    venue.submit(OrderIntent("t1", "BTCUSDT", "BUY", OrderType.MARKET, Decimal("0.5"),
                             OrderRole.ENTRY, events[0].ts))
    for ev in events[1:]:
        venue.on_market(ev)
    last_bar = max(closes)
    want = [(t, r) for t, _, r in records[1:] if t <= last_bar]
    assert len(want) == len(records) - 1
    assert [(ts, rate) for ts, _, rate in sink.funding] == want  # every 4 h, not every 8 h
    for ts, amount, rate in sink.funding:
        assert amount == (-Decimal("0.5") * Decimal(str(closes[ts - 1]))
                          * Decimal(str(rate))).quantize(Q)
        assert (amount < 0) == (rate > 0)  # the long pays a positive rate


def test_backtest_total_funding_is_the_sum_of_the_real_records_while_positions_were_open(
        server: ArchiveServer, sample_bars: list[Bar], tmp_path: Path) -> None:
    # 8 h on Jan 1, 4 h on Jan 2, 1 h on Jan 3 (Binance shortens a symbol's interval when its
    # rate hits the cap); signs vary so a dropped or doubled record shows in the sum.
    times = ([(JAN1 + h * H, 8) for h in (0, 8, 16)]
             + [(JAN1 + DAY + h * H, 4) for h in range(0, 24, 4)]
             + [(JAN1 + 2 * DAY + h * H, 1) for h in range(24)])
    records = [(t, h, round(0.0001 * ((k * 7) % 5 - 1), 6)) for k, (t, h) in enumerate(times)]
    store(server, sample_bars, tmp_path / "data", records)
    p = tapedesk("backtest", "--data", "binance:BTCUSDT:1m:2022-01", "--json",
                 "--funding-bps", "5", home=tmp_path, base=None)
    assert p.returncode == 0, p.stderr
    assert f"BTCUSDT: funding from the downloaded history: {len(records) - 1} rates applied" \
        in p.stderr, p.stderr
    run = json.loads(p.stdout)
    trades = run["trades"]
    assert {t["side"] for t in trades} == {"long", "short"}
    bars = {b.ts: b.close for b in sample_bars}
    want = Decimal(0)
    for t in trades:
        sign = 1 if t["side"] == "long" else -1
        qty = Decimal(t["qty"])
        for ts, _, rate in records:
            if t["entry_ts"] < ts <= t["exit_ts"]:  # held at the funding time
                want += (-sign * qty * Decimal(str(bars[ts - 1])) * Decimal(str(rate))
                         ).quantize(Q)
    got = sum((Decimal(t["funding"]) for t in trades), Decimal(0))
    assert want != 0
    assert got == want
    assert run["metrics"]["funding"] == pytest.approx(float(want))
