"""A backtest's compact trade log gives back exactly the trades it was given, and the same
metrics and JSON as the trades themselves."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine import indented_json, trade_log
from tapedesk.engine.backtest import FillMemory, build_backtest_engine
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.events import RoundTrip, Side
from tapedesk.engine.metrics import compute_metrics
from tapedesk.engine.strategy import create
from tapedesk.engine.trade_json import (
    _plain,
    _plain_text,
    _trade_chunks,
    _trade_texts,
    trade_json,
)
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


@settings(max_examples=60, deadline=None)
@given(st.lists(trips, max_size=12), st.sampled_from([1, 2]), st.booleans())
def test_trades_written_from_their_texts_are_json_dumps_text(
        trades: list[RoundTrip], indent: int, as_log: bool) -> None:
    """The saved result's trades through the per-trade template (``Stream.texts``): the
    bytes of json.dumps of the trades' dicts, kept objects and separators included."""
    log: TradeLog | list[RoundTrip] = TradeLog() if as_log else list(trades)
    if isinstance(log, TradeLog):
        for t in trades:
            log.append(t)
    stream = indented_json.Stream(
        len(log), lambda: _trade_chunks(log, 4),
        lambda pad, step, enc: _trade_texts(log, pad, step, enc, 4))
    parts: list[str] = []
    indented_json.dump({"n": 1, "trades": stream, "z": [stream]}, parts.append, indent)
    rows = [trade_json(t) for t in trades]
    assert "".join(parts) == json.dumps({"n": 1, "trades": rows, "z": [rows]}, indent=indent,
                                        default=str)


@given(decimals)
def test_plain_text_of_str_is_plain(value: Decimal) -> None:
    assert _plain_text(str(value)) == _plain(value)


def test_fill_memory_lets_go_of_old_keys_and_still_counts_them() -> None:
    engine, _labels = build_backtest_engine([create("ema_cross")], DeskConfig())
    memory = FillMemory(engine)
    keys = [(f"td-bt{i}-e", f"P{i}") for i in range(FillMemory.KEEP + 5)]
    engine._fills_seen.update(keys[:10])
    memory.bound()  # under the bound: kept, so a repeat is still refused
    assert keys[3] in engine._fills_seen and memory.fills() == 10
    engine._fills_seen.update(keys[10:])
    engine.book._opened.update(dict.fromkeys((k[0] for k in keys), 1))
    memory.bound()
    assert not engine._fills_seen and not engine.book._opened
    assert memory.fills() == len(keys)
    engine._fills_seen.add(("td-bt-next-e", "P-next"))
    assert memory.fills() == len(keys) + 1
