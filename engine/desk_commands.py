"""The trader's commands and read-only queries on a running desk (TUI keys, control socket).

A mixin of ``Engine``: kept apart so the engine module holds the loop and its routing. Every
command journals its flag before anyone is told (``commit``), so a restart keeps it.
"""

from __future__ import annotations

from typing import Any

from tapedesk.engine.events import Explanation, ExplanationKind, Position, RoundTrip
from tapedesk.engine.journal import row_to_explanation, setting_record
from tapedesk.engine.subscription import Subscription


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
