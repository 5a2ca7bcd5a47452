"""The saved-result encoder writes exactly what json.dumps(indent=n, default=str) writes."""

from __future__ import annotations

import json
from decimal import Decimal
from enum import IntEnum, StrEnum

from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine.indented_json import Stream, dump, dumps


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text() | st.decimals(allow_nan=False) | st.just(Colour.RED) | st.just(Level.HIGH)
)
keys = st.text() | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.none()
docs = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
    | st.dictionaries(keys, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=200, deadline=None)
@given(docs, st.sampled_from([0, 1, 2, 4]))
def test_same_text_as_json_dumps(doc: object, indent: int) -> None:
    assert dumps(doc, indent) == json.dumps(doc, indent=indent, default=str)


def test_a_saved_result_shape() -> None:
    doc = {"run": {"data": "x.csv", "params": [], "command": ["tapedesk", "backtest"]},
           "labels": ["FIXED QTY 0.01 — é", "ok"], "fills": 3, "margin_check": True,
           "refused_entries": {}, "metrics": {"sharpe": None, "return_pct": -1.5e-07,
                                              "nan": float("nan"), "inf": float("-inf")},
           "trades": [{"qty": Decimal("0.010"), "r": None, "entry_ts": 1, "side": Colour.RED}],
           "skipped": {"book_imbalance": "needs quotes"}}
    for indent in (1, 2):
        assert dumps(doc, indent) == json.dumps(doc, indent=indent, default=str)


def _streamed(doc: object, chunk: int) -> object:
    """``doc`` with every list of it (not tuples, not keys) as a Stream of ``chunk``-sized
    pieces, some of them empty."""
    if isinstance(doc, list):
        items = [_streamed(v, chunk) for v in doc]
        return Stream(len(items), lambda: [[], *(items[i:i + chunk]
                                                 for i in range(0, len(items), chunk))])
    if isinstance(doc, dict):
        return {k: _streamed(v, chunk) for k, v in doc.items()}
    return doc


@settings(max_examples=200, deadline=None)
@given(docs, st.sampled_from([0, 1, 2]), st.integers(1, 3))
def test_dump_writes_the_same_text_in_pieces(doc: object, indent: int, chunk: int) -> None:
    pieces: list[str] = []
    streamed = _streamed(doc, chunk)
    dump(streamed, pieces.append, indent)
    assert "".join(pieces) == json.dumps(doc, indent=indent, default=str)
    assert dumps(streamed, indent) == json.dumps(doc, indent=indent, default=str)
