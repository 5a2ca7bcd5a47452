"""A scripted stand-in implementing exactly the Engine API in TEAM.md.

Used only where the real engine cannot be made to do something deterministically on cue
(an open position at a chosen moment for the quit dialog, an engine that raises, a burst of
events at a chosen rate for the benchmark). Everything else runs the real engine.
"""

from __future__ import annotations

import asyncio
from collections import deque
from decimal import Decimal
from types import SimpleNamespace

from tapedesk.engine.events import Explanation, ExplanationKind, Position, RoundTrip, Side
from tapedesk.engine.snapshot import (
    DayStats,
    DeskSnapshot,
    DeskState,
    FeedStatus,
    StateChanged,
    StrategyStatus,
)

T0 = 1_723_104_000_000  # 2024-08-08 08:00 UTC


class FakeSubscription:
    def __init__(self, maxsize: int) -> None:
        self.q: deque = deque(maxlen=maxsize)
        self.dropped = 0
        self.closed = False

    def put(self, ev) -> None:
        if len(self.q) == self.q.maxlen:
            self.dropped += 1
        self.q.append(ev)

    def drain(self) -> list:
        out = list(self.q)
        self.q.clear()
        return out

    def close(self) -> None:
        self.closed = True


class FakeEngine:
    def __init__(self, *, position: bool = False, fail_start: bool = False) -> None:
        self.strategies = [SimpleNamespace(name="ema_cross"), SimpleNamespace(name="vwap_revert")]
        self.enabled = {"ema_cross": True, "vwap_revert": False}
        self.paused = False
        self.halted = False
        self.positions: dict[str, Position] = {}
        if position:
            self.positions["BTCUSDT"] = Position(
                symbol="BTCUSDT", side=Side.LONG, qty=Decimal("0.012"),
                entry_price=Decimal("56000.0"), leverage=5, opened_ts=T0 - 90_000,
                liquidation_price=Decimal("45000"), stop_loss=Decimal("55860"),
                take_profit=Decimal("56300"), strategy="ema_cross", risk_amount=Decimal("1.68"),
            )
        self.fail_start = fail_start
        self.verify_flat = True  # what the venue answers at the end of an emergency stop
        # States the real engine reaches only under faults (set by tests, shown by the header)
        self.unprotected: tuple[str, ...] = ()
        self.journal_error = ""
        self.feed_status = FeedStatus.REPLAY
        self.data_age_ms: int | None = 120
        self.mode = "paper"
        self.settings: dict[str, str] = {}
        self.subs: list[FakeSubscription] = []
        self.calls: list[str] = []
        self.started = self.stopped = False
        self.now = T0
        self._stop = asyncio.Event()

    async def start(self) -> None:
        if self.fail_start:
            raise RuntimeError("journal is locked by another desk")
        self.started = True

    async def run(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        self.calls.append("stop")
        self.stopped = True
        self._stop.set()

    def emit(self, ev) -> None:
        for s in self.subs:
            s.put(ev)

    async def pause(self) -> None:
        self.calls.append("pause")
        self.paused = True
        self.emit(StateChanged(DeskState.PAUSED, "Paused: no new entries"))

    async def resume(self) -> None:
        self.calls.append("resume")
        self.paused = False
        self.emit(StateChanged(DeskState.RUNNING, "Resumed"))

    async def emergency_stop(self) -> bool:
        self.calls.append("emergency_stop")
        self.halted = True
        last = "verified flat" if self.verify_flat else "venue still shows 1 position; retrying"
        for step in ("cancel all orders: 2 canceled", "close BTCUSDT reduce-only", last):
            self.emit(Explanation(self.now, ExplanationKind.DESK, step))
        self.positions.clear()
        self.emit(StateChanged(DeskState.HALTED, "HALTED by emergency stop"))
        return self.verify_flat

    async def resume_from_halt(self) -> None:
        self.calls.append("resume_from_halt")
        self.halted = False

    async def set_strategy_enabled(self, name: str, enabled: bool) -> None:
        self.calls.append(f"set_strategy_enabled:{name}:{enabled}")
        self.enabled[name] = enabled

    def subscribe(self, maxsize: int = 2000) -> FakeSubscription:
        sub = FakeSubscription(maxsize)
        self.subs.append(sub)
        return sub

    async def recent_trades(self, limit: int) -> list[RoundTrip]:
        return []

    async def recent_explanations(self, limit: int) -> list[Explanation]:
        return [Explanation(T0 - 60_000, ExplanationKind.DESK, "Desk started (fake engine)")]

    def equity_curve(self) -> list[tuple[int, float]]:
        return [(T0 + i * 1000, 10_000 + (i % 7) - i * 0.1) for i in range(50)]

    async def get_setting(self, key: str) -> str | None:
        return self.settings.get(key)

    async def set_setting(self, key: str, value: str) -> None:
        self.settings[key] = value

    def snapshot(self) -> DeskSnapshot:
        state = (DeskState.HALTED if self.halted else DeskState.PAUSED if self.paused
                 else DeskState.RUNNING)
        return DeskSnapshot(
            mode=self.mode, state=state, paused=self.paused, halted=self.halted,
            symbols=("BTCUSDT",), now_ts=self.now, next_reset_ts=T0 + 16 * 3_600_000,
            day=DayStats(day="2024-08-08", trades=2, losses=1, realized_pnl=Decimal("3.20"),
                         fees=Decimal("0.80"), locked=False, lock_reason="", trades_left=8,
                         losses_left=3),
            balance=Decimal("10003.20"), equity=Decimal("10004.00"),
            unrealized_pnl=Decimal("0.80"), positions=dict(self.positions),
            last_prices={"BTCUSDT": 56066.6}, feed_status=self.feed_status,
            data_age_ms=self.data_age_ms,
            strategies=tuple(
                StrategyStatus(index=i + 1, name=s.name, enabled=self.enabled[s.name])
                for i, s in enumerate(self.strategies)
            ),
            venue="paper", unprotected=self.unprotected, journal_error=self.journal_error,
        )
