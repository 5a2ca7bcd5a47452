"""A backtest's closed trades, kept compactly: a run that trades without end stays small.

A ``RoundTrip`` costs ~900 bytes in memory (an object and seven Decimals); 130,000 of them
(5 M bars of an always-trading EMA cross) were ~120 MiB. ``TradeLog`` keeps each trade as one
line of text — its fields' exact ``str()`` forms, from which ``Decimal`` rebuilds the very
same values (digits and exponent) — packed ``BLOCK`` lines at a time with zlib (~45 bytes a
trade), plus the few numbers metrics read as arrays (``TradeColumns``, ~60 bytes a trade).
Appending is a list append in the hot path: the packing is done a block at a time.

It is a read-only ``Sequence[RoundTrip]`` to its readers (``result.trades[0].pnl``,
iteration, ``len``, ``== []``): each trade is rebuilt when read. A trade whose text fields
hold a separator character, or whose fields are not of ``RoundTrip``'s declared types, is
kept as the object itself, so what comes back is always equal to what went in.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Iterator, Sequence
from decimal import Decimal
from itertools import compress
from typing import overload

from tapedesk.engine.equity_history import EquityHistory
from tapedesk.engine.events import RoundTrip, Side
from tapedesk.engine.journal_rows import row_to_trade

BLOCK = 1024  # trades per compressed block: ~150 KiB of text, a fraction of a ms to pack
_UNIT, _REC = "\x1f", "\x1e"  # field and line separators (ASCII unit / record separator)
_FIELDS = 16
# A lone surrogate (a plugin's name or reason) is text to Python and to json.dumps: kept.
_CODEC = ("utf-8", "surrogatepass")
_NAN = float("nan")


def _record(t: RoundTrip) -> str | None:
    """The trade's line, or None when it cannot be rebuilt exactly from text."""
    # One test per field (three all() over generators took a third of this function).
    if not (type(t.side) is Side and type(t.qty) is Decimal
            and type(t.entry_price) is Decimal and type(t.exit_price) is Decimal
            and type(t.gross_pnl) is Decimal and type(t.fees) is Decimal
            and type(t.funding) is Decimal and type(t.pnl) is Decimal
            and type(t.risk_amount) is Decimal and type(t.entry_ts) is int
            and type(t.exit_ts) is int and type(t.id) is int and type(t.symbol) is str
            and type(t.strategy) is str and type(t.reason) is str
            and type(t.position_id) is str):
        return None
    rec = _UNIT.join((
        t.symbol, t.side.value, str(t.qty), str(t.entry_price), str(t.exit_price),
        str(t.entry_ts), str(t.exit_ts), str(t.gross_pnl), str(t.fees), str(t.funding),
        str(t.pnl), t.strategy, t.reason, str(t.risk_amount), str(t.id), t.position_id))
    if rec.count(_UNIT) != _FIELDS - 1 or _REC in rec:
        return None  # a separator inside a text field (or a str subclass): keep the object
    return rec


def _trip(rec: str) -> RoundTrip:
    return row_to_trade(rec.split(_UNIT))


class TradeColumns:
    """The numbers of trades metrics read, one array entry per trade, in closing order
    (floats exactly ``float(Decimal)``; ``r`` is NaN where the R multiple is None)."""

    def __init__(self) -> None:
        self._pnl, self._gross, self._fees, self._funding = (array("d") for _ in range(4))
        self._r = array("d")
        self._entry_ts, self._exit_ts = array("q"), array("q")

    def _sync(self) -> None:
        """Bring the columns up to date (a TradeLog packs the trades it was last given)."""

    def __len__(self) -> int:
        self._sync()
        return len(self._pnl)

    pnl = property(lambda self: self._sync() or self._pnl)
    gross = property(lambda self: self._sync() or self._gross)
    fees = property(lambda self: self._sync() or self._fees)
    funding = property(lambda self: self._sync() or self._funding)
    r = property(lambda self: self._sync() or self._r)
    entry_ts = property(lambda self: self._sync() or self._entry_ts)
    exit_ts = property(lambda self: self._sync() or self._exit_ts)

    def closed_curve(self, initial: float) -> EquityHistory:
        """Equity after each trade, from ``initial``: (exit time, equity) at each exit."""
        eq, out = initial, array("d")
        for pnl in self.pnl:
            eq += pnl
            out.append(eq)
        return EquityHistory.whole(self.exit_ts, out)


class TradeLog(TradeColumns, Sequence[RoundTrip]):
    """Closed trades in the order they closed; ``append`` while running, read after."""

    def __init__(self) -> None:
        super().__init__()
        self._new: list[RoundTrip] = []  # appended, not packed yet (up to BLOCK)
        self._blocks: list[bytes] = []  # zlib of BLOCK lines joined by _REC
        self._tail: list[str] = []  # lines packed but not yet a whole block
        self._objects: dict[int, RoundTrip] = {}  # index -> a trade kept as itself
        self._cache: tuple[int, list[str]] = (-1, [])  # the last block read, unpacked
        self.strategies: list[str] = []  # names, in first-trade order
        self._strategy_no: dict[str, int] = {}
        self._strategy = array("H")

    def append(self, t: RoundTrip) -> None:
        # Called once per closed trade in the hot path: the work is done BLOCK at a time.
        new = self._new
        new.append(t)
        if len(new) >= BLOCK:
            self._sync()

    def _sync(self) -> None:
        new = self._new
        if not new:
            return
        self._new = []
        first = len(self._pnl)
        lines = [_record(t) for t in new]
        for k, rec in enumerate(lines):
            if rec is None:  # kept as the object itself
                self._objects[first + k] = new[k]
                lines[k] = ""
        r = array("d", [_NAN if (v := t.r_multiple) is None else v for t in new])
        numbers = self._strategy_no
        strategy_no = []  # one pass: a comprehension is a function call of its own in 3.11
        for t in new:
            name = t.strategy
            no = numbers.get(name)
            if no is None:
                no = numbers[name] = len(self.strategies)
                self.strategies.append(name)
            strategy_no.append(no)
        # The columns before the lines: a trade whose numbers cannot be read leaves neither.
        pnl = array("d", [float(t.pnl) for t in new])
        gross = array("d", [float(t.gross_pnl) for t in new])
        fees = array("d", [float(t.fees) for t in new])
        funding = array("d", [float(t.funding) for t in new])
        entry_ts = array("q", [t.entry_ts for t in new])
        exit_ts = array("q", [t.exit_ts for t in new])
        self._strategy.extend(strategy_no)
        self._pnl += pnl
        self._gross += gross
        self._fees += fees
        self._funding += funding
        self._r += r
        self._entry_ts += entry_ts
        self._exit_ts += exit_ts
        tail = self._tail
        tail += lines
        while len(tail) >= BLOCK:
            self._blocks.append(zlib.compress(_REC.join(tail[:BLOCK]).encode(*_CODEC), 1))
            del tail[:BLOCK]

    @property
    def strategy_no(self) -> array:
        """Each trade's strategy, as its index in ``strategies``."""
        self._sync()
        return self._strategy

    def _lines(self, block: int) -> list[str]:
        if block == len(self._blocks):
            return self._tail
        if self._cache[0] != block:
            self._cache = (block, zlib.decompress(self._blocks[block]).decode(*_CODEC).split(_REC))
        return self._cache[1]

    def _get(self, i: int) -> RoundTrip:
        self._sync()
        kept = self._objects.get(i)
        return kept if kept is not None else _trip(self._lines(i // BLOCK)[i % BLOCK])

    @overload
    def __getitem__(self, i: int) -> RoundTrip: ...
    @overload
    def __getitem__(self, i: slice) -> list[RoundTrip]: ...
    def __getitem__(self, i: int | slice) -> RoundTrip | list[RoundTrip]:
        if isinstance(i, slice):
            return [self._get(k) for k in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("trade index out of range")
        return self._get(i)

    def lines(self) -> Iterator[tuple[int, str]]:
        """(index, line) for every trade, a block unpacked at a time; "" for a kept object."""
        self._sync()
        i = 0
        for b in range(len(self._blocks) + 1):
            for rec in self._lines(b) if b < len(self._blocks) else self._tail:
                yield i, rec
                i += 1

    def __iter__(self) -> Iterator[RoundTrip]:
        objects = self._objects
        for i, rec in self.lines():
            yield objects[i] if rec == "" and i in objects else _trip(rec)

    def texts(self) -> Iterator[tuple[str, ...] | RoundTrip]:
        """Each trade's 16 field texts (``str()`` of each field, in ``RoundTrip`` order), or
        the trade itself when it is kept as an object: what a writer of the trades needs
        without rebuilding a Decimal."""
        objects = self._objects
        for i, rec in self.lines():
            yield objects[i] if rec == "" and i in objects else tuple(rec.split(_UNIT))

    def select(self, strategy: str) -> TradeLog:
        """The trades of one strategy, as a log of their own."""
        out = TradeLog()
        for t in self:
            if t.strategy == strategy:
                out.append(t)
        return out

    def columns_of(self, strategy: str) -> TradeColumns:
        """The numbers of one strategy's trades (its metrics need no more)."""
        self._sync()
        out = TradeColumns()
        no = self._strategy_no.get(strategy)
        if no is None:
            return out
        mine = [n == no for n in self.strategy_no]
        for name in ("_pnl", "_gross", "_fees", "_funding", "_r", "_entry_ts", "_exit_ts"):
            column = getattr(self, name)
            setattr(out, name, array(column.typecode, compress(column, mine)))
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other,
                                                                          strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content

    def __repr__(self) -> str:
        return f"TradeLog({len(self)} trades)"
