"""Shared pieces for the attacks on the one-position actions against the local exchange:
a live headless desk, the exchange's stops, journal reads and the trade story from the CLI."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from typing import Any

from tapedesk.engine.control import send

from tests.local_exchange import LocalExchange
from tests.local_exchange.desk import Desk, stop_and_target_cover

D = Decimal


def covered(ex: LocalExchange) -> bool:
    size, stop, target = stop_and_target_cover(ex)
    return size > 0 and stop == size == target


def stops(ex: LocalExchange) -> list[Any]:
    return [a for a in ex.account.open_algos("BTCUSDT") if a.type == "STOP_MARKET"]


def rows(desk: Desk, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{desk.data_dir / 'live.db'}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()


async def desk_last(desk: Desk) -> Decimal | None:
    try:
        answer = await asyncio.to_thread(send, desk.data_dir / "live.sock", "status", 5.0)
    except OSError:  # not listening yet (a restart)
        return None
    last = answer.get("status", {}).get("last_prices", {}).get("BTCUSDT")
    return None if last is None else D(str(last))


async def see_price(desk: Desk, price: str) -> None:
    """Wait until the desk itself has seen ``price`` (its control socket's status)."""
    await desk.wait_for(lambda: _is(desk, D(price)), 10, f"the desk to see {price}")


async def _is(desk: Desk, price: Decimal) -> bool:
    return await desk_last(desk) == price


def story(desk: Desk, trade_id: int) -> dict[str, Any]:
    done = desk.cli("trades", "--id", str(trade_id), "--json", "--mode", "live")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_story_matches_journal(desk: Desk, trade_id: int) -> dict[str, Any]:
    """The story's fills, fees and P&L equal the journal's fills and trade row."""
    s = story(desk, trade_id)
    [(pid, qty, fees, pnl, gross, risk)] = rows(
        desk, "SELECT position_id, qty, fees, pnl, gross_pnl, risk_amount FROM trades "
              "WHERE id = ?", (trade_id,))
    journal_fills = rows(desk, "SELECT role, side, qty, price, fee FROM fills "
                               "WHERE position_id = ? ORDER BY ts, id", (pid,))
    told = [(f["role"], f["side"], f["qty"], f["price"], f["fee"]) for f in s["fills"]]
    assert told == journal_fills, (told, journal_fills)
    assert D(s["pnl"]["fees"]) == D(fees) == sum(D(f[4]) for f in journal_fills), s["pnl"]
    assert D(s["pnl"]["net"]) == D(pnl) and D(s["pnl"]["gross"]) == D(gross)
    opened = sum(D(f[2]) for f in journal_fills if f[0] == "entry")
    closed = sum(D(f[2]) for f in journal_fills if f[0] != "entry")
    assert opened == closed == D(qty), (opened, closed, qty)
    assert D(s["pnl"]["risk_amount"]) == D(risk)
    return s


class QuoteBeat:
    """Market data only (no matching): the desk's data stays fresh while an order the
    exchange filled in part stays that way (``Heartbeat`` would fill its rest)."""

    def __init__(self, exchange: LocalExchange, price: str, every: float = 0.3) -> None:
        self.exchange, self.price, self.every = exchange, D(price), every
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.exchange.account.marks["BTCUSDT"] = self.price  # what stops trigger on
            await self.exchange._publish_market("BTCUSDT", self.price, self.price)
            await asyncio.sleep(self.every)

    def __enter__(self) -> QuoteBeat:
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()
