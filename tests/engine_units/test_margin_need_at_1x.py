"""The margin rule's need at 1x is the notional itself (risk_rules.margin_verdict skips the
division): the same digits and exponent ``notional / 1`` gives, so every saved and journaled
``need`` reads as before, whatever the notional's exponent (trailing zeros, E-notation, 28
digits)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from tapedesk.engine.risk_rules import margin_verdict

_notional = st.decimals(min_value=Decimal(0), max_value=Decimal("1e30"), allow_nan=False,
                        allow_infinity=False, places=None)


@given(notional=_notional, available=_notional, leverage=st.integers(0, 125))
def test_need_is_what_the_division_gives(notional: Decimal, available: Decimal,
                                         leverage: int) -> None:
    notional = +notional  # rounded to the context, as a product of qty and price is
    ok, need = margin_verdict(notional, leverage, available)
    want = notional / leverage if leverage else notional
    assert need.as_tuple() == want.as_tuple() and str(need) == str(want)
    assert ok is (want <= available)


def test_trailing_zeros_and_exponents_kept() -> None:
    for text in ("0", "0.00", "600.00", "1E+3", "9.999999999999999999999999999E+30"):
        need = margin_verdict(Decimal(text), 1, Decimal("1e40"))[1]
        assert str(need) == str(Decimal(text) / 1) == text
