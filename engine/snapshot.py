"""Read-only views of the desk that the TUI, the CLI and the control channel show.

The engine builds a ``DeskSnapshot`` on request; it is immutable and cheap, so a UI can take
one per frame without locking anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tapedesk.engine.events import Position


class DeskState(StrEnum):
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    DAY_LOCKED = "DAY LOCKED"
    HALTED = "HALTED"


class FeedStatus(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    REPLAY = "replay"
    STALE = "stale"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class DayStats:
    day: str  # YYYY-MM-DD of the risk day (rolls at the configured UTC hour)
    trades: int
    losses: int
    realized_pnl: Decimal
    fees: Decimal
    locked: bool
    lock_reason: str
    trades_left: int
    losses_left: int


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    index: int  # 1-based, the number key that toggles it
    name: str
    enabled: bool
    last_signal: str = ""
    signals_today: int = 0
    trades_today: int = 0
    pnl_today: Decimal = Decimal(0)
    error: str = ""


@dataclass(frozen=True, slots=True)
class DeskSnapshot:
    mode: str  # "paper" | "live" | "backtest"
    state: DeskState
    paused: bool
    halted: bool
    symbols: tuple[str, ...]
    now_ts: int
    next_reset_ts: int
    day: DayStats
    balance: Decimal
    equity: Decimal
    unrealized_pnl: Decimal
    positions: dict[str, Position]
    last_prices: dict[str, float]
    feed_status: FeedStatus
    data_age_ms: int | None
    strategies: tuple[StrategyStatus, ...]
    venue: str
    api_weight: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Symbols holding open quantity with no exchange-side stop covering it (shown as
    #: UNPROTECTED; the order owner flattens them after ``risk.unprotected_grace_s``).
    unprotected: tuple[str, ...] = ()
    #: Why the journal cannot be written ("" when healthy): entries stop, JOURNAL ERROR shows.
    journal_error: str = ""
    #: Binance endpoints the desk uses ("production", "testnet", "demo-trading", "custom");
    #: "" when nothing talks to Binance (a replay). With ``mode`` it decides ``stake``.
    environment: str = ""
    #: Where market data comes from: "replay" (a file, the offline demo) or "live feed".
    source: str = ""

    @property
    def stake(self) -> str:
        """What money is at stake: PAPER, TESTNET, DEMO-TRADING or LIVE (the header's label)."""
        return money_at_stake(self.mode, self.environment)

    @property
    def position(self) -> Position | None:
        """The first open position (the desk trades one at a time by default)."""
        return next(iter(self.positions.values()), None)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types (Decimals as strings) for ``tapedesk status --json``."""
        return _jsonable(asdict(self))


def money_at_stake(mode: str, environment: str) -> str:
    """Only a live desk places orders, so only its endpoints decide; the offline demo, a
    replay and paper on live data are all PAPER. A custom endpoint (a local exchange) is
    shown as LIVE: the desk cannot know it is fake, and erring that way is the safe one."""
    if mode != "live":
        return "PAPER"
    return {"testnet": "TESTNET", "demo-trading": "DEMO-TRADING"}.get(environment, "LIVE")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, StrEnum):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class StateChanged:
    """Posted to subscribers when pause/halt/lock/strategy state changes."""

    state: DeskState
    text: str
