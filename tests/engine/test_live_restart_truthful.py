"""Issue 8's restart, engine side, against the local exchange with the real BinanceVenue:
a live desk holding a position with its algo stop and target is abandoned without a clean
stop (as kill -9 would leave it); a new desk on the same journal recognises its own stop and
target (no difference), tracks them, and when the stop fills the trade closes at the
exchange's price and fees and the day counters count the loss."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from tapedesk.engine.assembly import build_live_engine
from tapedesk.engine.binance.live import prepare_live
from tapedesk.engine.config import DeskConfig, StrategyConfig
from tapedesk.engine.events import OrderRole
from tapedesk.engine.keys import Credentials

from tests.engine.test_live_engine_session import FAST, first_quote_strategy  # noqa: F401
from tests.live.conftest import KEY, SECRET, exchange, wait_until  # noqa: F401

SYM = "BTCUSDT"


def config(exchange) -> DeskConfig:  # noqa: F811
    cfg = DeskConfig(strategies=[StrategyConfig(name="test_first_quote_long")])
    cfg.binance.rest_url = exchange.rest_url
    cfg.binance.ws_url = exchange.ws_url
    return cfg


async def desk(exchange, data_dir: Path):  # noqa: F811
    cfg = config(exchange)
    creds = Credentials(api_key=KEY, api_secret=SECRET, environment="live")
    venue = await prepare_live(cfg, creds, lambda _p: SYM, say=lambda _l: None, settings=FAST)
    return build_live_engine(data_dir, cfg, venue), venue


async def test_restart_recognises_the_desks_own_stop_and_books_its_fill(
    exchange,  # noqa: F811
    tmp_path: Path,
    first_quote_strategy,  # noqa: F811
) -> None:
    data = tmp_path / "data"
    await exchange.set_price(SYM, "60000")
    first, venue1 = await desk(exchange, data)
    run = asyncio.ensure_future(first.run())
    await wait_until(lambda: len(exchange.socks) >= 3, what="streams")
    await exchange.set_price(SYM, "60010")
    await wait_until(lambda: first.snapshot().unprotected == () and bool(first.book.positions)
                     and len(first.orders.protection(SYM)) == 2
                     and all(i.client_id in first.orders.acked
                             for i in first.orders.protection(SYM)), 15, "stop+TP live")
    own = sorted(first.orders.protection(SYM), key=lambda i: i.role)
    await first.commit()
    # Abandoned: no stop(), nothing more written; its sockets just go away.
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    await venue1.close()
    await venue1.client.close_connection()
    await first.journal.close()

    again, venue2 = await desk(exchange, data)
    try:
        await again.start()
        rec = again.reconciliation
        assert rec is not None and rec.differences == [], rec.describe()
        assert sorted(again.orders.protection(SYM), key=lambda i: i.role) == own
        assert {i.client_id for i in own} <= set(venue2.orders)  # tracked again
        stop = next(i for i in own if i.role is OrderRole.STOP)
        run2 = asyncio.ensure_future(again.run())
        await wait_until(lambda: len(exchange.socks) >= 5, what="new streams")
        await exchange.set_price(SYM, str(stop.stop_price - 5))  # through the stop
        await wait_until(lambda: bool(again.trades) and again.trades[-1].reason == "stop-loss",
                         15, "the stop's fill booked")
        trip = again.trades[-1]
        acct_trades = [t for t in exchange.account.trades if t["symbol"] == SYM]
        assert trip.fees == sum(Decimal(t["commission"]) for t in acct_trades)
        assert again.day.losses == 1 and again.day.realized_pnl < 0
        await wait_until(lambda: not exchange.account.open_algos(SYM), 10, "target cancelled")
        assert again.book.positions == {}
        run2.cancel()
        await asyncio.gather(run2, return_exceptions=True)
    finally:
        await again.stop()
        await venue2.client.close_connection()
