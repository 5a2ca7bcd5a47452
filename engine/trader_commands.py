"""The trader's commands and read-only queries on a running desk (TUI keys, control socket):
pause, resume, the emergency stop and lifting it, strategy toggles, acting on one position
(engine.position_actions), stopping the desk.

A mixin of ``Engine``: kept apart so the engine module holds the loop and its routing. Every
command journals its flag before anyone is told (``commit``), so a restart keeps it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from tapedesk.engine import position_actions
from tapedesk.engine.emergency_stop import emergency_stop
from tapedesk.engine.events import Explanation, ExplanationKind, Position, RoundTrip
from tapedesk.engine.journal import row_to_explanation, setting_record
from tapedesk.engine.strategy import StrategyError
from tapedesk.engine.subscription import Subscription

if TYPE_CHECKING:
    import asyncio  # annotations only: a backtest never starts an event loop

log = logging.getLogger("tapedesk.engine")
#: Journal setting: strategies the trader loaded from the desk that the config does not list.
ADDED_KEY = "strategies.added"


class TraderCommands:
    """Pause, resume, lift a halt, toggle strategies, settings, subscriptions, history."""

    # Provided by Engine.
    journal: Any
    trades: list[RoundTrip]
    recent: Any
    equity_samples: list[tuple[int, float]]
    book: Any
    roster: Any
    _strat: dict[str, Any]
    _pending: list[Any]
    _subs: set[Subscription]
    _estop_task: asyncio.Task[None] | None
    _run_task: asyncio.Task[Any] | None
    _stopping: bool
    _control: Any
    feed: Any
    venue: Any
    strategies: list[Any]
    halted: bool
    orders: Any
    companions: list[Any]

    async def pause(self) -> None:
        await self._set_flag("paused", True, "Desk PAUSED: no new entries; open trades are "
                             "still managed by their stop and target.")

    async def resume(self) -> None:
        await self._set_flag("paused", False, "Desk resumed: strategies are asked again.")

    async def resume_from_halt(self) -> None:
        """Refused while the emergency stop still works: entries resumed under it would get
        no stop (the order owner stands aside for it) and could be closed by it."""
        if self._estop_task is not None and not self._estop_task.done():
            raise ValueError("the emergency stop has not verified flat yet (it keeps "
                             "retrying); resume once the log says verified flat")
        self.orders.halting = False
        await self._set_flag("halted", False, "Halt lifted by the trader: new entries allowed.")

    async def close_manually(self, symbol: str) -> position_actions.ActionResult:
        """Close one position reduce-only at market (``x``, ``tapedesk close``)."""
        return await position_actions.close_position(self, symbol)

    async def stop_to_breakeven(self, symbol: str) -> position_actions.ActionResult:
        """Move one position's stop to break-even (``b``, ``tapedesk stop-to-breakeven``)."""
        return await position_actions.stop_to_break_even(self, symbol)

    async def set_strategy_enabled(self, name: str, enabled: bool) -> None:
        st = self._strat.get(name)
        if st is None:
            raise KeyError(f"no strategy named {name!r}")
        st.enabled = enabled
        if enabled:
            st.error = ""
        self._pending.append(setting_record(f"strategy.{name}.enabled", "1" if enabled else "0"))
        self._pending.append(self.roster.record())
        self._rebuild_handlers()
        self.explain(ExplanationKind.DESK,
                     f"Strategy {name} {'enabled' if enabled else 'disabled'}.", strategy=name)
        self._announce()
        await self.commit()

    async def add_strategy(self, name: str) -> None:
        """Enable ``name``, first loading it with its default parameters if it is not loaded
        (the desk's strategy screen). Journaled, so a restart loads it again."""
        if name not in self._strat:
            strat = self.roster.add(name)
            added = json.loads(await self.get_setting(ADDED_KEY) or "[]")
            self._pending.append(setting_record(ADDED_KEY, json.dumps([*added, name])))
            inner = getattr(getattr(self, "feed", None), "inner", None)
            if strat.handles("on_depth") and inner is not None and not getattr(inner, "depth", 1):
                self.explain(ExplanationKind.ERROR,
                             f"Strategy {name} reads the order book, which this desk's feed "
                             "does not stream: list it in [[strategies]] and restart.",
                             strategy=name)
        await self.set_strategy_enabled(name, True)

    async def _restore_added_strategies(self) -> None:
        """Strategies loaded from the desk (not in the config) come back after a restart."""
        for name in json.loads(await self.journal.get_setting(ADDED_KEY) or "[]"):
            if name in self._strat:
                continue
            try:
                self.roster.add(name)
            except StrategyError as exc:  # a plugin that is gone: said, never fatal
                self.explain(ExplanationKind.ERROR,
                             f"Strategy {name} (added from the desk) not loaded: {exc}")

    async def get_setting(self, key: str) -> str | None:
        return await self.journal.get_setting(key) if self.journal else None

    async def set_setting(self, key: str, value: str) -> None:
        self._pending.append(setting_record(key, value))
        await self.commit()

    def subscribe(self, maxsize: int = 2000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subs.add(sub)
        return sub

    async def recent_trades(self, limit: int = 200) -> list[RoundTrip]:
        return list(reversed(self.trades[-limit:]))

    async def recent_explanations(self, limit: int = 500) -> list[Explanation]:
        if self.journal is None:
            return list(self.recent)[-limit:]
        rows = await self.journal.fetchall(
            "SELECT ts, kind, text, strategy, symbol, rule FROM explanations "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [row_to_explanation(r) for r in reversed(rows)]

    def equity_curve(self) -> list[tuple[int, float]]:
        return list(self.equity_samples)

    def position(self, symbol: str) -> Position | None:
        return self.book.positions.get(symbol)

    async def _set_flag(self, name: str, value: bool, text: str) -> None:
        if getattr(self, name) == value:
            return
        setattr(self, name, value)
        self._pending.append(setting_record(name, "1" if value else "0"))
        self._update_gate()
        self.explain(ExplanationKind.DESK, text)
        self._announce()
        await self.commit()

    async def stop(self) -> None:
        """Stop consuming, let ``run`` finish its last commit, then close everything."""
        import asyncio

        self._stopping = True
        if self.companions:
            from tapedesk.engine.companions import close_companions

            companions, self.companions = self.companions, []
            await close_companions(companions)
        run_task = self._run_task
        if run_task is not None and run_task is not asyncio.current_task() and not run_task.done():
            if self.feed is not None and hasattr(self.feed, "close"):
                with contextlib.suppress(Exception):
                    await self.feed.close()
            try:
                await asyncio.wait_for(asyncio.shield(run_task), 5)
            except (TimeoutError, asyncio.CancelledError):
                run_task.cancel()
                with contextlib.suppress(BaseException):
                    await run_task
            except Exception:  # run's own failure was already reported by its owner
                log.exception("engine run ended with an error")
        if self._control is not None:
            await self._control.close()
            self._control = None
        if self._estop_task is not None and not self._estop_task.done():
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._estop_task, 5)
        for s in self.strategies:
            with contextlib.suppress(Exception):
                s.on_stop()
        await self.commit()
        if self.feed is not None and hasattr(self.feed, "close"):
            with contextlib.suppress(Exception):
                await self.feed.close()
        with contextlib.suppress(Exception):
            await self.venue.close()
        if self.journal is not None:
            await self.journal.close()
        for sub in list(self._subs):
            sub.close()

    async def emergency_stop(self) -> bool:
        """Halt entries, cancel everything, close reduce-only, verify flat; retry until flat.

        Works with the market stream dead: it talks only to the venue
        (engine.emergency_stop holds the procedure). True only once the venue verified flat.
        """
        import asyncio

        if self._estop_task is not None and not self._estop_task.done():
            return await asyncio.shield(self._estop_task)
        self._estop_task = asyncio.ensure_future(self._emergency_stop())
        return await asyncio.shield(self._estop_task)

    async def _emergency_stop(self) -> bool:
        return await emergency_stop(self)

    def set_halted(self) -> None:
        """The emergency stop's first step: in force in memory at once, journaled next."""
        self.halted = True
        self._pending.append(setting_record("halted", "1"))
        self._update_gate()
        self._announce()
