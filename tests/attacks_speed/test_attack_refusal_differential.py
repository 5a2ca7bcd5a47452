"""Attack on refuse-cheap: the risk engine before the change (aca4519, copied verbatim into
``_old_risk``) and after it must give the same Decision for every entry — same rule, same
text, same numbers in the same order (the journal's decisions row), same passed rules, same
explanation line — and a ``Refusal`` read later must read as the old eager vet at once, also
after the objects the decision was made from are reused for the next signal."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine import explanations as say
from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import Decision, Side, Signal
from tapedesk.engine.position_sizing import Costs
from tapedesk.engine.risk import DayCounters, Refusal, RiskEngine
from tapedesk.engine.symbols import spec_for

from tests.attacks_speed._old_risk.risk import RiskEngine as OldRiskEngine


def _row(dec: Decision) -> tuple:
    return (dec.accepted, dec.qty, dec.leverage, dec.rule, dec.text, list(dec.passed),
            list(dec.numbers.items()))


@settings(max_examples=300, deadline=None)
@given(
    sym=st.sampled_from(["BTCUSDT", "ETHUSDT"]),
    long=st.booleans(),
    entry=st.floats(1.0, 120_000.0, allow_nan=False),
    stop_pct=st.floats(0.0, 0.6),
    equity=st.integers(0, 20_000),
    available=st.sampled_from(["0", "0.5", "3", "150", "5000", "1e9"]),
    fixed=st.sampled_from([None, "0.0001", "0.001", "0.01", "1", "3.7"]),
    enabled=st.booleans(),
    margin_check=st.booleans(),
    costs=st.sampled_from([None, Costs(), Costs(Decimal("0.0005"), Decimal("0.0002"))]),
)
def test_old_and_new_vet_agree_and_a_refusal_read_later_reads_the_same(
        sym, long, entry, stop_pct, equity, available, fixed, enabled, margin_check, costs):
    side = Side.LONG if long else Side.SHORT
    stop = entry * (1 - stop_pct / 100) if long else entry * (1 + stop_pct / 100)
    tp = entry * (1.004 if long else 0.996)
    fq = None if fixed is None else Decimal(fixed)
    kw = dict(day=DayCounters("d"), equity=Decimal(equity), available=Decimal(available),
              spec=spec_for(sym), has_position=False, has_pending=False)

    def sig() -> Signal:
        return Signal("grid", sym, side, 1, entry, stop, tp)

    old = OldRiskEngine(RiskConfig(), enabled=enabled, fixed_qty=fq, costs=costs,
                        margin_check=margin_check)
    new = RiskEngine(RiskConfig(), enabled=enabled, fixed_qty=fq, costs=costs,
                     margin_check=margin_check)
    lazy = RiskEngine(RiskConfig(), enabled=enabled, fixed_qty=fq, costs=costs,
                      margin_check=margin_check)
    want = old.vet(sig(), **kw)
    got = new.vet(sig(), **kw)
    assert _row(got) == _row(want)
    verdict = lazy.verdict(sig(), **kw)
    lazy.verdict(sig(), **kw)  # the same engine asked again before the first is read
    if type(verdict) is Refusal:
        line = say.refusal(verdict)
        assert _row(verdict.decision()) == _row(want) and line == say.refused(want)
    else:
        assert _row(verdict) == _row(want)
    assert new.refused == old.refused
    assert lazy.refused == {k: 2 * v for k, v in old.refused.items()}
