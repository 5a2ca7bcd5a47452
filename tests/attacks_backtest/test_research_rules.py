"""Issue 10's research switches, checked through the console script as a user runs them:
--no-risk (no day lock), --no-margin-check, --slippage-bps 0 --funding-bps 0, and the
always-in ema_cross (reverse=true stop_pct=0) against an independent loop."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal
from pathlib import Path

import pytest

from .bars import T0, always_in, backtest_json, signs, write_bars

ALWAYS_IN = ("--strategy", "ema_cross", "--param", "fast=3", "--param", "slow=5",
             "--param", "reverse=true", "--param", "stop_pct=0", "--fill-at", "close",
             "--fixed-qty", "1", "--fee-bps", "4", "--slippage-bps", "0",
             "--funding-bps", "0", "--no-risk")


def _walk(n: int = 240, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    closes, c = [], 1000.0
    for _ in range(n):
        c = round(c + rng.choice((-0.6, -0.3, -0.1, 0.1, 0.3, 0.6)), 1)
        closes.append(c)
    return closes


@pytest.fixture(scope="module")
def walk_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    closes = _walk()
    return write_bars(tmp_path_factory.mktemp("walk") / "walk.csv", closes), closes


def _cents(x: object) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.01"))


def test_sample_month_no_risk_takes_every_cross_not_41() -> None:
    """Issue 10, item 1: EMA 12/26 on the bundled month made 41 trades instead of 1,130
    because the day lock ignored --no-risk."""
    doc = backtest_json("--data", "sample:1m", "--param", "fast=12", "--param", "slow=26",
                        "--no-risk", "--fixed-qty", "0.01")
    assert doc["metrics"]["trades"] == 1130
    assert doc["fills"] == 2 * 1130
    assert any("no day lock" in label for label in doc["labels"])
    assert any(label.startswith("NO RISK RULES") for label in doc["labels"])
    assert not any("DAY LOCKED" in e for e in doc.get("explanations", []))


def test_always_in_cross_equals_an_independent_loop_to_the_cent(walk_file) -> None:
    path, closes = walk_file
    want = always_in(closes, 3, 5, 4)
    assert want["fills"] >= 20, "too few crosses to prove anything"
    doc = backtest_json("--data", str(path), *ALWAYS_IN, "--initial-balance", "1e9")
    m = doc["metrics"]
    assert doc["fills"] == want["fills"]
    assert _cents(m["fees"]) == _cents(want["fees"])
    assert _cents(m["net_pnl"]) == _cents(want["net"])
    # always in the market after the first cross: each trade's exit is the next one's entry
    trades = doc["trades"]
    first = signs(closes, 3, 5)[0][0]
    assert trades[0]["entry_ts"] // 60_000 * 60_000 == int(path.read_text().splitlines()[1 + first]
                                                         .split(",")[0])
    for a, b in itertools.pairwise(trades):
        assert a["exit_ts"] == b["entry_ts"]
        assert Decimal(a["exit_price"]) == Decimal(b["entry_price"])
        assert a["side"] != b["side"]


def test_no_margin_check_at_the_default_balance_equals_a_1e9_balance(walk_file) -> None:
    path, _ = walk_file
    big = backtest_json("--data", str(path), *ALWAYS_IN, "--initial-balance", "1e9")
    free = backtest_json("--data", str(path), *ALWAYS_IN, "--no-margin-check",
                         "--initial-balance", "100")
    assert free["margin_check"] is False and free["refused_for_margin"] == 0
    assert any(label.startswith("NO MARGIN CHECK") for label in free["labels"])
    assert free["fills"] == big["fills"]
    assert _cents(free["metrics"]["net_pnl"]) == _cents(big["metrics"]["net_pnl"])


def test_margin_refusals_are_counted_not_silent(walk_file) -> None:
    """Qty 1 at ~$1,000 needs ~$200 of margin at 5x: a $100 account is refused every entry."""
    path, _ = walk_file
    doc = backtest_json("--data", str(path), *ALWAYS_IN, "--initial-balance", "100")
    assert doc["refused_for_margin"] > 0
    assert doc["metrics"]["trades"] == 0
    assert any(label.startswith("REFUSED ENTRIES") and "--no-margin-check" in label
               for label in doc["labels"])


def test_zero_slippage_and_funding_fill_at_the_exact_close(walk_file) -> None:
    path, closes = walk_file
    doc = backtest_json("--data", str(path), *ALWAYS_IN, "--initial-balance", "1e9")
    assert any("slippage 0 bps" in label for label in doc["labels"])
    assert any("assumed rate off" in label for label in doc["labels"])
    assert doc["metrics"]["funding"] == 0
    by_ts = {T0 + i * 60_000 + 59_999: Decimal(f"{c:.2f}") for i, c in enumerate(closes)}
    for t in doc["trades"]:
        assert Decimal(t["entry_price"]) == by_ts[t["entry_ts"]]
        assert Decimal(t["exit_price"]) == by_ts[t["exit_ts"]]
        assert Decimal(t["funding"]) == 0

