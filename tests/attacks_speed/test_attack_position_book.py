"""PositionBook.apply was rewritten for speed (fields read once, ``min``/``max`` written out,
a shared effect returned for opening and adding fills). Differential attack: any sequence of
fills on two symbols (adds, partial and exact closes, flips, one order filling in parts,
quantities and prices written with different exponents: ``0.10`` is not ``0.1`` once it is
journaled as text) leaves the very same positions, position ids and effects as the
pre-merge apply (66d3d72, kept below), compared by ``repr`` so a Decimal's exponent counts.
And the shared effects handed out must still say what they said after a whole run."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine import positions
from tapedesk.engine.events import Fill, Liquidity, OrderRole, Position
from tapedesk.engine.positions import ZERO, FillEffect, PositionBook


class _PreMergeBook(PositionBook):
    __slots__ = ()

    def apply(self, fill: Fill, leverage: int = 1, strategy: str = "") -> FillEffect:
        pos = self.positions.get(fill.symbol)
        buy = fill.side == "BUY"
        if pos is None:
            position_id = self.opening_id(fill.client_id)
            self._opened[fill.client_id] = self._opened.get(fill.client_id, 0) + 1
            self.positions[fill.symbol] = Position(
                symbol=fill.symbol, side=positions._LONG if buy else positions._SHORT,
                qty=fill.qty, entry_price=fill.price, leverage=leverage, opened_ts=fill.ts,
                strategy=strategy, fees=fill.fee, peak_qty=fill.qty, position_id=position_id)
            return FillEffect(ZERO, True, None)
        long = pos.side is positions._LONG
        if buy == long:
            total = pos.qty + fill.qty
            pos.entry_price = (pos.entry_price * pos.qty + fill.price * fill.qty) / total
            pos.qty = total
            pos.peak_qty = max(pos.peak_qty, total)
            pos.fees += fill.fee
            return FillEffect(ZERO, False, None)
        closing = min(pos.qty, fill.qty)
        gross = (fill.price - pos.entry_price) * closing * (1 if long else -1)
        closing_fee = fill.fee * closing / fill.qty
        pos.qty -= closing
        pos.realized_gross += gross
        pos.exit_qty += closing
        pos.exit_notional += fill.price * closing
        pos.fees += closing_fee
        if pos.qty > 0:
            return FillEffect(gross, False, None)
        del self.positions[fill.symbol]
        rest = fill.qty - closing
        if rest > 0:
            flipped = Fill(fill.client_id, fill.symbol, fill.side, rest, fill.price,
                           fill.fee - closing_fee, fill.ts, fill.liquidity, fill.role,
                           fill.seq, fill.trade_id)
            self.apply(flipped, leverage, strategy)
        return FillEffect(gross, False, pos)


_fill = st.tuples(
    st.sampled_from(["BTCUSDT", "ETHUSDT"]),
    st.sampled_from(["BUY", "SELL"]),
    st.sampled_from(["0.1", "0.10", "0.100", "0.05", "0.2", "0.3", "1", "0.001"]),
    st.sampled_from(["100", "100.0", "100.00", "99.9", "101.25", "3"]),
    st.sampled_from(["0", "0.00000000", "0.01", "0.0123"]),
    st.sampled_from(["c1", "c2", "c3", ""]),
    st.sampled_from([1, 5, 20]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_fill, min_size=1, max_size=25))
def test_apply_leaves_the_same_books_and_effects_as_before(fills: list[tuple]):
    new, old = PositionBook(), _PreMergeBook()
    for i, (sym, side, qty, price, fee, cid, lev) in enumerate(fills):
        f = Fill(cid, sym, side, Decimal(qty), Decimal(price), Decimal(fee), i,
                 Liquidity.TAKER, OrderRole.ENTRY, 1, f"T{i}")
        got, want = new.apply(f, lev, "s"), old.apply(f, lev, "s")
        assert repr(got) == repr(want)
        assert repr(new.positions) == repr(old.positions)
        assert new._opened == old._opened
    # The effects shared by every opening/adding fill are what a fresh one would be.
    assert repr(positions._OPENED) == repr(FillEffect(ZERO, True, None))
    assert repr(positions._ADDED) == repr(FillEffect(ZERO, False, None))


def test_a_whole_backtest_leaves_the_shared_effects_untouched():
    """Every caller of ``apply`` (both books of a paper desk, the order owner, the fill
    side) gets the shared effect: one that writes to it would change every later fill."""
    code = (
        "from tapedesk.engine import positions as p\n"
        "from tapedesk.tui.launch import main\n"
        "import sys\n"
        "sys.argv = ['tapedesk', 'backtest', '--data', 'sample:stream', '--strategy', 'all',"
        " '--no-progress', '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(repr(p._OPENED), repr(p._ADDED), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=240)
    assert '"fills": ' in out.stdout and '"fills": 0,' not in out.stdout  # it did trade
    assert out.stderr.strip().splitlines()[-1] == (
        "FillEffect(realized_gross=Decimal('0'), opened=True, closed=None) "
        "FillEffect(realized_gross=Decimal('0'), opened=False, closed=None)")
