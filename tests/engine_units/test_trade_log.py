"""A backtest's compact trade log gives back exactly the trades it was given, and the same
metrics and JSON as the trades themselves; the bounded fill-key window keeps the dedupe rule."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine import trade_log
from tapedesk.engine.backtest import _plain, _plain_text, _trade_chunks, trade_json
from tapedesk.engine.events import RoundTrip, Side
from tapedesk.engine.metrics import compute_metrics
from tapedesk.engine.recent_keys import RecentCounts, RecentKeys
from tapedesk.engine.trade_log import TradeLog

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None)
texts = st.text(max_size=12)  # may hold the log's separators: then kept as the object
trips = st.builds(
    RoundTrip,
    symbol=st.sampled_from(["BTCUSDT", "ETHUSDT"]), side=st.sampled_from(list(Side)),
    qty=decimals, entry_price=decimals, exit_price=decimals,
    entry_ts=st.integers(0, 4_000_000_000_000), exit_ts=st.integers(0, 4_000_000_000_000),
    gross_pnl=decimals, fees=decimals, funding=decimals, pnl=decimals,
    strategy=st.sampled_from(["ema_cross", "grid", "a\x1fb"]), reason=texts,
    risk_amount=decimals | st.just(Decimal(0)), id=st.integers(0, 10**9), position_id=texts,
)


def _same(a: RoundTrip, b: RoundTrip) -> bool:
    """Equal, and every Decimal with the same digits and exponent (its text)."""
    return a == b and repr(a) == repr(b)


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trade_log, "BLOCK", 3)  # many blocks from a few trades


@settings(max_examples=60, deadline=None)
@given(st.lists(trips, max_size=12))
def test_the_log_gives_back_the_same_trades(trades: list[RoundTrip]) -> None:
    log = TradeLog()
    for t in trades:
        log.append(t)
    assert len(log) == len(trades)
    assert all(_same(a, b) for a, b in zip(log, trades, strict=True))
    assert all(_same(log[i], t) for i, t in enumerate(trades))
    assert log == trades and log[1:4] == trades[1:4]
    if trades:
        assert _same(log[-1], trades[-1])
    for name in ("ema_cross", "a\x1fb", "nobody"):
        mine = [t for t in trades if t.strategy == name]
        part = log.select(name)
        assert part == mine
        assert list(part.pnl) == [float(t.pnl) for t in mine]
        assert list(part.exit_ts) == [t.exit_ts for t in mine]
        curve, eq = [], 100.0
        for t in mine:
            eq += float(t.pnl)
            curve.append((t.exit_ts, eq))
        assert list(part.closed_curve(100.0)) == curve and part.closed_curve(100.0)[:] == curve
        cols = log.columns_of(name)
        assert list(cols.closed_curve(100.0)) == curve and len(cols) == len(mine)
        assert (compute_metrics(cols, curve, 100.0, 1, 9, (0, 10**13))
                == compute_metrics(mine, curve, 100.0, 1, 9, (0, 10**13)))


@settings(max_examples=60, deadline=None)
@given(st.lists(trips, max_size=12), st.booleans())
def test_same_metrics_and_json_as_the_trades(trades: list[RoundTrip], period: bool) -> None:
    log = TradeLog()
    for t in trades:
        log.append(t)
    span = (0, 5_000_000_000_000) if period else None
    equity = [(1_000, 10_000.0), (90_000_000, 10_050.0)]
    assert (compute_metrics(log, equity, 10_000.0, 3, 10, span)
            == compute_metrics(trades, equity, 10_000.0, 3, 10, span))
    rows = [row for chunk in _trade_chunks(log, 4) for row in chunk]
    assert rows == [trade_json(t) for t in trades]


@given(decimals)
def test_plain_text_of_str_is_plain(value: Decimal) -> None:
    assert _plain_text(str(value)) == _plain(value)


def test_recent_keys_refuse_a_repeat_and_count_every_key() -> None:
    keys = RecentKeys([("a", "P1")], window=2)
    for k in [("a", "P1"), ("b", "P2"), ("b", "P2"), ("c", "P3")]:
        if k not in keys:
            keys.add(k)
    assert len(keys) == 3  # P1, P2, P3: the repeats were refused
    assert ("b", "P2") in keys and ("c", "P3") in keys
    assert ("a", "P1") not in keys  # beyond the window: forgotten, memory stays bounded
    assert list(keys) == [("b", "P2"), ("c", "P3")]
    with pytest.raises(ValueError):
        RecentKeys(window=0)


def test_recent_counts_keep_the_last_orders() -> None:
    counts = RecentCounts(window=2)
    counts["a"] = 1
    counts["a"] = counts.get("a", 0) + 1  # set again: not a new key
    counts["b"] = 1
    assert counts == {"a": 2, "b": 1}
    counts["c"] = 1
    assert counts == {"b": 1, "c": 1}  # "a", the oldest, is forgotten
    with pytest.raises(ValueError):
        RecentCounts(window=0)
