"""Funding from downloaded history through the console: an always-in-the-market strategy
(ema_cross reverse, no stop) on two days of bars with Binance-style funding rows; every
trade's funding and the backtest total must equal the hand-computed sum (positive rate:
the long pays, the short receives; valued at the last close before the funding time)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

from tapedesk.engine.events import Bar

from tests.attacks_data.conftest import MIN, ms, tapedesk
from tests.market_data.archive_server import ArchiveServer, zipped

H8 = 8 * 3_600_000
RATES = [0.0001, 0.0003, -0.0002, 0.0005, 0.0001, -0.0001, 0.0002]


def _wave(start: int, n: int) -> list[Bar]:
    out = []
    for i in range(n):
        p = 20_000 + 300 * math.sin(2 * math.pi * i / 700) + (i % 7) * 0.5
        out.append(Bar("BTCUSDT", start + i * MIN, start + (i + 1) * MIN - 1, round(p, 1),
                       round(p + 2, 1), round(p - 2, 1), round(p + 0.5, 1), 3.0))
    return out


def test_long_pays_short_receives_and_the_total_is_the_hand_sum(
        server: ArchiveServer, tmp_path: Path) -> None:
    base = server.base  # type: ignore[attr-defined]
    t0 = ms(2023, 1)
    bars = _wave(t0, 2 * 1440 + 60)
    server.put_month("BTCUSDT", "1m", "2023-01", bars, header=False)
    name = "BTCUSDT-fundingRate-2023-01"
    server.put(f"/data/futures/um/monthly/fundingRate/BTCUSDT/{name}.zip", zipped(
        name + ".csv", "calc_time,funding_interval_hours,last_funding_rate\n" + "".join(
            f"{t0 + k * H8 + 5},8,{r}\n" for k, r in enumerate(RATES))))
    dl = tapedesk("data", "download", "--symbol", "BTCUSDT", "--from", "2023-01", "--kind",
                  "klines", "--kind", "funding", home=tmp_path, base=base)
    assert dl.returncode == 0, dl.stdout + dl.stderr
    bt = tapedesk("backtest", "--data", "binance:BTCUSDT:1m:2023-01", "--strategy",
                  "ema_cross", "--param", "reverse=true", "--param", "stop_pct=0",
                  "--fixed-qty", "0.5", "--no-risk", "--fee-bps", "0", "--slippage-bps", "0",
                  "--funding-bps", "50", "--json", "--no-progress", home=tmp_path)
    assert bt.returncode == 0, bt.stderr
    assert "rates applied" in bt.stderr, bt.stderr
    result, _end = json.JSONDecoder().raw_decode(bt.stdout)
    close_at = {b.ts + 1: Decimal(repr(b.close)) for b in bars}
    times = [(t0 + k * H8, Decimal(repr(r))) for k, r in enumerate(RATES)]
    total = Decimal(0)
    paid_long = received_short = False
    charged = 0
    for tr in result["trades"]:
        sign = 1 if tr["side"] == "long" else -1
        qty = Decimal(tr["qty"])
        want = Decimal(0)
        for t, rate in times:
            if tr["entry_ts"] < t <= tr["exit_ts"]:
                amount = (-sign * qty * close_at[t] * rate).quantize(Decimal("0.00000001"))
                want += amount
                charged += 1
                paid_long |= sign > 0 and rate > 0 and amount < 0
                received_short |= sign < 0 and rate > 0 and amount > 0
        assert Decimal(tr["funding"]) == want, (tr, want)
        total += want
    assert charged >= 5 and paid_long and received_short, "the data did not put a long and a short across " \
                                         "a positive rate"
    assert abs(Decimal(str(result["metrics"]["funding"])) - total) < Decimal("0.000001"), (
        result["metrics"]["funding"], total)
