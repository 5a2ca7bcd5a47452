"""``events.Side``'s sign / opposite / order_side are plain attributes of the two members
now (were properties): every way a Side is made or carried must still have them with the
same values, and the Enum must still be a two-member StrEnum (the annotations are not
members). Pickled in one interpreter and read in another (a checkpoint, an optimizer
worker), copied, deep-copied, rebuilt from a journal row or a pydantic field."""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
from enum import StrEnum

import pytest
from pydantic import BaseModel
from tapedesk.engine.events import RoundTrip, Side
from tapedesk.engine.journal_rows import row_to_trade

WANT = {Side.LONG: (1, Side.SHORT, "BUY"), Side.SHORT: (-1, Side.LONG, "SELL")}


def _facts(s: Side) -> tuple:
    return s.sign, s.opposite, s.order_side


def test_two_members_and_their_values() -> None:
    assert list(Side) == [Side.LONG, Side.SHORT] and len(Side) == 2
    assert set(Side.__members__) == {"LONG", "SHORT"}
    assert isinstance(Side.LONG, StrEnum) and Side.LONG == "long" and str(Side.SHORT) == "short"
    assert Side("long") is Side.LONG and Side["SHORT"] is Side.SHORT
    for bad in ("BUY", "SELL", "Long", 1, "sign", "opposite"):
        with pytest.raises(ValueError):
            Side(bad)
    for s, facts in WANT.items():
        assert _facts(s) == facts
        assert s.opposite.opposite is s and s.sign == -s.opposite.sign
        assert hash(s) == hash(s.value) and json.dumps(s) == f'"{s.value}"'


@pytest.mark.parametrize("make", [
    lambda s: pickle.loads(pickle.dumps(s, protocol=0)),
    lambda s: pickle.loads(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)),
    copy.copy, copy.deepcopy, lambda s: Side(s.value), lambda s: Side(str(s)),
    lambda s: copy.deepcopy({"k": [s]})["k"][0],
])
def test_every_way_of_making_a_side_gives_the_member(make) -> None:
    for s, facts in WANT.items():
        got = make(s)
        assert got is s and _facts(got) == facts


def test_unpickled_in_a_fresh_interpreter() -> None:
    blob = pickle.dumps([Side.LONG, Side.SHORT, RoundTrip(
        "BTCUSDT", Side.SHORT, *([0] * 3), 1, 2, *([0] * 4), "s", "r")])
    code = ("import pickle, sys; from tapedesk.engine.events import Side; "
            "a, b, t = pickle.loads(sys.stdin.buffer.read()); "
            "print(a is Side.LONG, b is Side.SHORT, a.sign, b.sign, a.opposite is b, "
            "b.opposite is a, a.order_side, b.order_side, t.side.sign, t.side.order_side)")
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True,
                         timeout=60, check=True)
    assert out.stdout.decode().split() == ["True", "True", "1", "-1", "True", "True", "BUY",
                                           "SELL", "-1", "SELL"]


def test_a_journal_row_and_a_pydantic_field_give_the_member() -> None:
    row = ["BTCUSDT", "short", "0.01", "100", "99", "1", "2", "0.01", "0", "0", "0.01",
           "ema_cross", "why", "0", "7", "p1"]
    t = row_to_trade(row)
    assert t.side is Side.SHORT and _facts(t.side) == WANT[Side.SHORT]

    class M(BaseModel):
        side: Side

    for text, s in (("long", Side.LONG), ("short", Side.SHORT)):
        m = M(side=text)
        assert m.side is s and _facts(m.side) == WANT[s]
        assert M.model_validate_json(m.model_dump_json()).side is s
    assert M.model_json_schema()["$defs"]["Side"]["enum"] == ["long", "short"]
    with pytest.raises(ValueError):
        M(side="BUY")


def test_the_attributes_are_not_enum_members_nor_settable_by_name() -> None:
    assert "sign" not in Side.__members__ and not isinstance(Side.__dict__.get("sign"), Side)
    with pytest.raises(AttributeError):
        Side.LONG = Side.SHORT  # type: ignore[misc]
