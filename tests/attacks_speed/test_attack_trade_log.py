"""TradeLog stands for a list of RoundTrips: every trade read back must be the one given
(same Decimal digits and exponent), whatever text its fields hold, through any index or
slice a list takes, and the streamed JSON must be what ``trade_json`` writes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine import trade_log
from tapedesk.engine.events import RoundTrip, Side
from tapedesk.engine.indented_json import dumps
from tapedesk.engine.metrics import compute_metrics
from tapedesk.engine.trade_json import _trade_chunks, trade_json
from tapedesk.engine.trade_log import TradeLog

# Exponents and signs str() keeps: 0E-8, -0, -0E-8, 1E+30, and long fractions.
odd = st.sampled_from([Decimal(s) for s in ("0E-8", "-0", "-0E-8", "1E+30", "-1E-30",
                                             "0.000000000000000000000000001",
                                             "123456789012345678901234567890.123456789")])
# Any sign, digits and exponent (a wide exponent makes format(d, "f") megabytes long).
decimals = st.builds(lambda sign, digits, exp: Decimal((sign, digits, exp)), st.integers(0, 1),
                     st.lists(st.integers(0, 9), min_size=1, max_size=30).map(tuple),
                     st.integers(-40, 40)) | odd
# Any text, lone surrogates included (``\udcff`` is how Python spells an undecodable byte
# of a file name or argv; json.dumps writes it as ``"\udcff"``).
# The log's own separators (\x1f, \x1e) too.
texts = st.text(st.characters() | st.sampled_from("\udce9\ud800\x1f\x1e\t\n"), max_size=8)
trips = st.builds(
    RoundTrip, symbol=st.sampled_from(["BTCUSDT", "1000PEPEUSDT"]), side=st.sampled_from(list(Side)),
    qty=decimals, entry_price=decimals, exit_price=decimals,
    entry_ts=st.integers(0, 4_000_000_000_000), exit_ts=st.integers(0, 4_000_000_000_000),
    gross_pnl=decimals, fees=decimals, funding=decimals, pnl=decimals,
    strategy=texts | st.sampled_from(["grid", "my\tplugin\n", "é😀\u2028"]), reason=texts,
    risk_amount=decimals | st.just(Decimal(0)), id=st.integers(0, 10**12), position_id=texts,
)


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trade_log, "BLOCK", 2)  # packed (encoded) from the second trade on


def _log(trades: list[RoundTrip]) -> TradeLog:
    log = TradeLog()
    for t in trades:
        log.append(t)
    return log


@settings(max_examples=80, deadline=None)
@given(st.lists(trips, max_size=9), st.integers(-12, 12), st.integers(-12, 12),
       st.sampled_from([None, 1, 2, -1, -3]))
def test_any_text_and_any_slice_read_back_as_given(trades: list[RoundTrip], a: int, b: int,
                                                   step: int | None) -> None:
    log = _log(trades)
    assert [repr(t) for t in log] == [repr(t) for t in trades]
    assert [repr(t) for t in log[a:b:step]] == [repr(t) for t in trades[a:b:step]]
    for i in (a, b):
        if -len(trades) <= i < len(trades):
            assert repr(log[i]) == repr(trades[i])
        else:
            with pytest.raises(IndexError):
                log[i]
    assert log == trades and trades == log and (log == []) == (not trades)
    rows = [row for chunk in _trade_chunks(log, 3) for row in chunk]
    assert dumps(rows, 1) == dumps([trade_json(t) for t in trades], 1)


def test_a_plugin_named_with_an_undecodable_byte_still_backtests() -> None:
    """``--strategy`` from argv, or a plugin's name, may hold ``\\udcff``: the log packed
    its text with strict UTF-8 and raised UnicodeEncodeError from the run's hot path."""
    t = RoundTrip("BTCUSDT", Side.LONG, Decimal("0.01"), Decimal("100"), Decimal("101"), 1, 2,
                  Decimal("0.01"), Decimal("0E-8"), Decimal("0"), Decimal("0.01"),
                  "caf\udce9", "strategy exit", Decimal("0"), 1, "td-1-e")
    log = _log([t, t, t])
    assert list(log) == [t, t, t] and log.strategies == ["caf\udce9"]
    assert compute_metrics(log, [], 100.0, 1, 3, (0, 3)) == compute_metrics([t] * 3, [], 100.0,
                                                                             1, 3, (0, 3))


pnls = st.sampled_from([Decimal(s) for s in ("0", "-0", "0E-8", "-0E-8", "1E-12", "-1E-12",
                                             "-5", "3.5", "-0.00000001")])
small_trips = st.builds(
    RoundTrip, symbol=st.just("BTCUSDT"), side=st.sampled_from(list(Side)), qty=st.just(Decimal(1)),
    entry_price=st.just(Decimal(100)), exit_price=st.just(Decimal(100)),
    entry_ts=st.integers(0, 10**6), exit_ts=st.integers(0, 10**6), gross_pnl=pnls, fees=pnls,
    funding=pnls, pnl=pnls, strategy=st.sampled_from(["a", "b"]), reason=st.just("x"),
    risk_amount=st.sampled_from([Decimal(0), Decimal("0E-8"), Decimal("2.5")]), id=st.just(1),
    position_id=st.just("p"))


@settings(max_examples=150, deadline=None)
@given(st.lists(small_trips, max_size=6), st.booleans())
def test_break_even_all_losing_single_and_no_trades_give_the_same_metrics(
        trades: list[RoundTrip], period: bool) -> None:
    """Metrics from the log's number columns (and one strategy's columns, as ``--strategy
    all`` computes its rows) equal those from the trades themselves, repr for repr (a
    None against a 0.0, or -0.0 against 0.0, would show)."""
    log = _log(trades)
    span = (0, 10**6) if period else None
    equity = [(5, 1000.0)] if trades else []
    assert repr(compute_metrics(log, equity, 1000.0, 2, 9, span)) == repr(
        compute_metrics(trades, equity, 1000.0, 2, 9, span))
    for name in ("a", "b"):
        mine = [t for t in trades if t.strategy == name]
        cols = log.columns_of(name)
        curve = cols.closed_curve(1000.0)
        assert repr(compute_metrics(cols, curve, 1000.0, 1, 9, span)) == repr(
            compute_metrics(mine, list(curve), 1000.0, 1, 9, span))
