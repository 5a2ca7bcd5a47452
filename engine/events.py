"""Domain events: everything that flows through the engine, in one place.

Market events are lean ``__slots__`` classes with float fields because a backtest
creates millions of them (a validated pydantic model costs ~6x more per object:
bench/event_types.py). Anything
that touches money at the exchange edge (orders, fills, balances) uses ``Decimal``.
Times are integer milliseconds since the Unix epoch, UTC, as Binance sends them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any


class Kind(IntEnum):
    """Market event kinds; an int so the hot loop can dispatch with one compare."""

    BAR = 1
    QUOTE = 2
    TRADE = 3
    MARK = 4
    DEPTH = 5


class Bar:
    """A closed kline. ``ts`` is the bar's *close* time so nothing can peek ahead of it."""

    __slots__ = ("close", "high", "low", "open", "open_ts", "symbol", "ts", "volume")
    kind = Kind.BAR

    def __init__(
        self,
        symbol: str,
        open_ts: int,
        ts: int,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float = 0.0,
    ) -> None:
        self.symbol = symbol
        self.open_ts = open_ts
        self.ts = ts
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume

    def __repr__(self) -> str:
        return (
            f"Bar({self.symbol} {self.open_ts} o={self.open} h={self.high} "
            f"l={self.low} c={self.close} v={self.volume})"
        )


class Quote:
    """Best bid/ask (bookTicker). Paper fills use these, never the last trade."""

    __slots__ = ("ask", "ask_qty", "bid", "bid_qty", "symbol", "ts")
    kind = Kind.QUOTE

    def __init__(
        self, symbol: str, ts: int, bid: float, bid_qty: float, ask: float, ask_qty: float
    ) -> None:
        self.symbol = symbol
        self.ts = ts
        self.bid = bid
        self.bid_qty = bid_qty
        self.ask = ask
        self.ask_qty = ask_qty

    def __repr__(self) -> str:
        return f"Quote({self.symbol} {self.ts} {self.bid}/{self.ask})"


class Trade:
    """A public trade (aggTrade/trade). ``buyer_is_maker`` True means a seller hit the bid."""

    __slots__ = ("buyer_is_maker", "price", "qty", "symbol", "ts")
    kind = Kind.TRADE

    def __init__(
        self, symbol: str, ts: int, price: float, qty: float, buyer_is_maker: bool
    ) -> None:
        self.symbol = symbol
        self.ts = ts
        self.price = price
        self.qty = qty
        self.buyer_is_maker = buyer_is_maker

    def __repr__(self) -> str:
        return f"Trade({self.symbol} {self.ts} {self.price}x{self.qty})"


class MarkPrice:
    """Mark price and funding (markPrice stream): drives funding and liquidation."""

    __slots__ = ("funding_rate", "mark", "next_funding_ts", "symbol", "ts")
    kind = Kind.MARK

    def __init__(
        self, symbol: str, ts: int, mark: float, funding_rate: float, next_funding_ts: int
    ) -> None:
        self.symbol = symbol
        self.ts = ts
        self.mark = mark
        self.funding_rate = funding_rate
        self.next_funding_ts = next_funding_ts


class Depth:
    """A depth diff or snapshot: ``bids``/``asks`` are (price, qty) pairs, qty 0 removes."""

    __slots__ = ("asks", "bids", "is_snapshot", "symbol", "ts")
    kind = Kind.DEPTH

    def __init__(
        self,
        symbol: str,
        ts: int,
        bids: list[tuple[float, float]],
        asks: list[tuple[float, float]],
        is_snapshot: bool = False,
    ) -> None:
        self.symbol = symbol
        self.ts = ts
        self.bids = bids
        self.asks = asks
        self.is_snapshot = is_snapshot


MarketEvent = Bar | Quote | Trade | MarkPrice | Depth


class Side(StrEnum):
    """``sign`` (+1/-1), ``opposite`` and ``order_side`` (the Binance order side that opens
    this position side) are plain attributes of each member, set below: read on every
    signal and fill, a property call cost several times an attribute read."""

    LONG = "long"
    SHORT = "short"

    sign: int
    opposite: Side
    order_side: str


Side.LONG.sign, Side.LONG.opposite, Side.LONG.order_side = 1, Side.SHORT, "BUY"
Side.SHORT.sign, Side.SHORT.opposite, Side.SHORT.order_side = -1, Side.LONG, "SELL"


class SignalKind(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    #: Close the strategy's opposite position, then enter ``side`` at the same price when the
    #: close filled at once (the engine does both through the order owner).
    REVERSE = "reverse"


@dataclass(slots=True)
class Signal:
    """What a strategy wants, with the facts that made it want it (``reasons``: a list, or
    a ``Reasons`` that words them when first read, engine/reasons.py)."""

    strategy: str
    symbol: str
    side: Side
    ts: int
    entry: float
    stop_loss: float = 0.0
    take_profit: float = 0.0
    confidence: float = 0.5
    reasons: Sequence[str] = field(default_factory=list)
    kind: SignalKind = SignalKind.ENTRY


@dataclass(slots=True)
class RuleResult:
    """One risk rule's verdict, with the numbers it looked at."""

    rule: str
    passed: bool
    message: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Decision:
    """Risk's answer to a Signal: accepted with a size, or refused by one named rule."""

    signal: Signal
    accepted: bool
    qty: Decimal = Decimal(0)
    leverage: int = 0
    rule: str = ""
    text: str = ""
    passed: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    #: The venue could not tell whether the order exists (a 5xx or timeout, and look-ups by
    #: client id did not settle it yet). Not final: the order may be live.
    UNKNOWN = "UNKNOWN"


class OrderRole(StrEnum):
    """Why the engine placed an order: decides what a fill of it means for the trade."""

    ENTRY = "entry"
    STOP = "stop"
    TAKE_PROFIT = "take_profit"
    EXIT = "exit"
    FLATTEN = "flatten"
    LIQUIDATION = "liquidation"


@dataclass(slots=True)
class OrderIntent:
    """An order the engine wants placed; ``client_id`` makes re-sends idempotent."""

    client_id: str
    symbol: str
    side: str  # BUY / SELL
    type: OrderType
    qty: Decimal
    role: OrderRole
    ts: int
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    strategy: str = ""


@dataclass(slots=True)
class OrderUpdate:
    """A venue's word on an order's state (new, canceled, rejected with why)."""

    client_id: str
    symbol: str
    status: OrderStatus
    ts: int
    reason: str = ""
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


@dataclass(slots=True)
class Fill:
    """One execution. ``seq`` numbers fills of one order so a replay cannot duplicate them."""

    client_id: str
    symbol: str
    side: str  # BUY / SELL
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts: int
    liquidity: Liquidity
    role: OrderRole
    seq: int = 0
    trade_id: str = ""


@dataclass(slots=True)
class Position:
    """A net (one-way mode) position on one symbol, isolated margin."""

    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    leverage: int
    opened_ts: int
    margin: Decimal = Decimal(0)
    liquidation_price: Decimal = Decimal(0)
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    strategy: str = ""
    fees: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)
    risk_amount: Decimal = Decimal(0)
    # Running totals while the position closes, so a round trip reports true averages.
    peak_qty: Decimal = Decimal(0)
    exit_qty: Decimal = Decimal(0)
    exit_notional: Decimal = Decimal(0)
    realized_gross: Decimal = Decimal(0)
    #: Client id of the order whose fill opened it: ties decision, orders, fills and trade.
    position_id: str = ""


@dataclass(slots=True)
class RoundTrip:
    """A closed trade: entry to flat. ``pnl`` is net of fees and funding."""

    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    entry_ts: int
    exit_ts: int
    gross_pnl: Decimal
    fees: Decimal
    funding: Decimal
    pnl: Decimal
    strategy: str
    reason: str
    risk_amount: Decimal = Decimal(0)
    #: The journal's trade id (``tapedesk trades --id``); the engine numbers trades itself
    #: so the desk can show the id before the journal hands one back. 0: not numbered.
    id: int = 0
    position_id: str = ""  # Position.position_id of the position this trade closed

    @property
    def r_multiple(self) -> float | None:
        if not self.risk_amount:
            return None
        return float(self.pnl / self.risk_amount)


class ExplanationKind(StrEnum):
    TAKEN = "taken"
    REFUSED = "refused"
    FILL = "fill"
    EXIT = "exit"
    DESK = "desk"
    ERROR = "error"


@dataclass(slots=True)
class Explanation:
    """A sentence for the explanation log: why something happened (or did not)."""

    ts: int
    kind: ExplanationKind
    text: str
    strategy: str = ""
    symbol: str = ""
    rule: str = ""
    position_id: str = ""  # the position it is about (Position.position_id), "" if none
