"""The trader's commands and read-only queries on a running desk (TUI keys, control socket):
pause, resume, the emergency stop and lifting it, strategy toggles, stopping the desk.

A mixin of ``Engine``: kept apart so the engine module holds the loop and its routing. Every
command journals its flag before anyone is told (``commit``), so a restart keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tapedesk.engine.emergency_stop import emergency_stop
from tapedesk.engine.events import Explanation, ExplanationKind, Position, RoundTrip
from tapedesk.engine.journal import row_to_explanation, setting_record
from tapedesk.engine.subscription import Subscription

log = logging.getLogger("tapedesk.engine")


class DeskCommands:
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

    async def pause(self) -> None:
        await self._set_flag("paused", True, "Desk PAUSED: no new entries; open trades are "
                             "still managed by their stop and target.")

    async def resume(self) -> None:
        await self._set_flag("paused", False, "Desk resumed: strategies are asked again.")

    async def resume_from_halt(self) -> None:
        await self._set_flag("halted", False, "Halt lifted by the trader: new entries allowed.")

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
        self._stopping = True
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
