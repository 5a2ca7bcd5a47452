"""A refusal by a sizing rule (and a strategy's skip note) is worded only when read: the
text and numbers read later must be exactly what the eager vet / note gave at once."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine import explanations as say
from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import Side, Signal
from tapedesk.engine.risk import (
    Acceptance,
    DayCounters,
    Refusal,
    RiskEngine,
    refusal_line,
    taken_line,
)
from tapedesk.engine.strategies.notes import SkipNotes
from tapedesk.engine.symbols import spec_for


def _kw(available: str) -> dict:
    return dict(day=DayCounters("d"), equity=Decimal(10_000), available=Decimal(available),
                spec=spec_for("BTCUSDT"), has_position=False, has_pending=False)


def test_a_margin_refusal_reads_as_the_eager_vet_said_it():
    sig = Signal("grid", "BTCUSDT", Side.LONG, 1, 50_000.0, 49_900.0, 50_200.0)
    lazy = RiskEngine(RiskConfig(), enabled=False, fixed_qty=Decimal("0.01"))
    eager = RiskEngine(RiskConfig(), enabled=False, fixed_qty=Decimal("0.01"))
    got = lazy.verdict(sig, **_kw("1.5"))
    want = eager.vet(sig, **_kw("1.5"))
    assert type(got) is Refusal and got.rule == "margin_available" == want.rule
    assert say.refused(got.decision()) == say.refused(want)
    assert "needs $500.00 isolated margin, $1.50 available" in say.refused(want)
    dec = got.decision()
    assert dec == want and list(dec.numbers) == list(want.numbers)
    assert lazy.refused == eager.refused == {"margin_available": 1}



def test_an_accepted_entry_reads_as_the_eager_vet_said_it():
    """Accepted entries are worded when read too (a backtest has no journal to record them)."""
    sig = Signal("grid", "BTCUSDT", Side.LONG, 1, 50_000.0, 49_900.0, 50_200.0)
    for fixed in (Decimal("0.01"), None):
        lazy = RiskEngine(RiskConfig(), enabled=fixed is None, fixed_qty=fixed)
        got = lazy.verdict(sig, **_kw("10000"))
        want = RiskEngine(RiskConfig(), enabled=fixed is None, fixed_qty=fixed).vet(
            sig, **_kw("10000"))
        assert type(got) is Acceptance and got.accepted and want.accepted
        assert (got.qty, got.leverage, got.rule, got.signal) == (
            want.qty, want.leverage, want.rule, want.signal)
        equity = Decimal(10_000)
        assert taken_line(got, equity, 0.3) == say.taken(want, equity, 0.3)
        dec = got.decision()
        assert dec == want and list(dec.numbers) == list(want.numbers) and dec.passed
        assert got.decision() is dec and taken_line(dec, equity, 0.3) == say.taken(want, equity, 0.3)


def test_a_refusal_line_kept_from_its_fields_reads_as_the_full_refusal():
    """A backtest keeps ``Refusal.line()`` (not the Refusal) for its lazy explanation."""
    sig = Signal("grid", "BTCUSDT", Side.SHORT, 1, 50_000.0, 50_100.0, 49_800.0)
    risk = RiskEngine(RiskConfig(), enabled=False, fixed_qty=Decimal("0.01"))
    margin = risk.verdict(sig, **_kw("1.5"))
    line = margin.line()
    assert refusal_line(*line) == say.refused(margin.decision())
    assert refusal_line(*margin.line()) == refusal_line(*line)  # read after the Decision too
    assert sig not in line and all(type(f) is not dict for f in line)  # nor its numbers
    tiny = RiskEngine(RiskConfig(), enabled=False, fixed_qty=Decimal("0.0001"))
    small = tiny.verdict(sig, **_kw("10000"))
    assert small.rule == "exchange_minimums"
    assert refusal_line(*small.line()) == say.refused(tiny.vet(sig, **_kw("10000")))
    assert "below the minimum" in refusal_line(*small.line())


def test_the_kept_entry_price_never_mixes_up_equal_numbers_with_other_texts():
    eng = RiskEngine(RiskConfig())
    assert repr(eng._decimal_price(5.0)) == "Decimal('5.0')"
    assert repr(eng._decimal_price(5)) == "Decimal('5')"
    assert repr(eng._decimal_price(-0.0)) == "Decimal('-0.0')"
    assert repr(eng._decimal_price(0.0)) == "Decimal('0.0')"


class _Noter(SkipNotes):
    pass


def test_a_note_worded_later_reads_as_worded_at_once():
    s = _Noter()
    s._init_notes()
    s._note(1, "BTCUSDT", "plain")
    s._note_by(2, "BTCUSDT", "{} of {}".format, 3, "4")
    kept = s.drain_note_words()
    assert [(ts, sym, word(*args)) for ts, sym, word, args in kept] == [
        (1, "BTCUSDT", "plain"), (2, "BTCUSDT", "3 of 4")]
    s._note_by(3, "ETHUSDT", "{}!".format, "x")
    assert s.drain_notes() == [(3, "ETHUSDT", "x!")] and not s.notes
