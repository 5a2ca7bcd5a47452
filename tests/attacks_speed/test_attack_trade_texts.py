"""The saved result's trades written through the per-trade ``%`` template
(``trade_json._trade_texts`` via ``indented_json.Stream.texts``) must be the bytes
``json.dumps(..., indent=n, default=str)`` writes for the trades' dicts, for any trade a
plugin strategy can close: any text in the symbol, strategy, reason and position id (quotes,
backslashes, control characters, non-ASCII, lone surrogates), Decimals of every shape
(-0, 0E-8, exponents, long digits), times from year 1 to 9999, R multiples that overflow
to infinity or are -0.0, any indent and nesting."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine import indented_json, trade_log
from tapedesk.engine.events import RoundTrip, Side
from tapedesk.engine.trade_json import _trade_chunks, _trade_texts, trade_json
from tapedesk.engine.trade_log import TradeLog

nasty = st.text(st.characters(codec=None, exclude_categories=()), max_size=8) | st.sampled_from(
    ['"', "\\", '\\"', "\x00\x1f\x7f", "é€😀", "\ud800", "%s", "%(x)s", "a\nb", "\u2028",
     "Infinity", "null", ""])
decimals = st.sampled_from([Decimal("-0"), Decimal("0E-8"), Decimal("1E+30"), Decimal("-1E-30"),
                            Decimal("123456789012345678901234567890.123456789"),
                            Decimal("1E+200"), Decimal("-1E+200"), Decimal("0.00")]) | st.decimals(
    allow_nan=False, allow_infinity=False, min_value=-10**12, max_value=10**12)
risk = st.sampled_from([Decimal(0), Decimal("1E-200"), Decimal("-1E-200"), Decimal("1"),
                        Decimal("3")]) | decimals
ts = st.integers(-62_135_596_800_000, 253_402_300_799_999)
trips = st.builds(
    RoundTrip, symbol=nasty, side=st.sampled_from(list(Side)), qty=decimals,
    entry_price=decimals, exit_price=decimals, entry_ts=ts, exit_ts=ts, gross_pnl=decimals,
    fees=decimals, funding=decimals, pnl=decimals, strategy=nasty, reason=nasty,
    risk_amount=risk, id=st.integers(0, 2**62), position_id=nasty)


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trade_log, "BLOCK", 3)


@settings(max_examples=100, deadline=None)
@given(st.lists(trips, max_size=9), st.integers(0, 3), st.integers(1, 4))
def test_template_text_is_json_dumps_text(trades: list[RoundTrip], indent: int,
                                          size: int) -> None:
    log = TradeLog()
    for t in trades:
        log.append(t)
    stream = indented_json.Stream(len(log), lambda: _trade_chunks(log, size),
                                  lambda pad, step, enc: _trade_texts(log, pad, step, enc, size))
    doc = {"a": {"b": [1, {"trades": stream}]}, "trades": stream, "é": None}
    parts: list[str] = []
    indented_json.dump(doc, parts.append, indent)
    rows = [row for chunk in _trade_chunks(log, size) for row in chunk]
    want = json.dumps({"a": {"b": [1, {"trades": rows}]}, "trades": rows, "é": None},
                      indent=indent, default=str)
    assert "".join(parts) == want
    # and the rows are the trades' own JSON (the object path), R multiple included
    assert json.dumps(rows) == json.dumps([trade_json(t) for t in trades])
