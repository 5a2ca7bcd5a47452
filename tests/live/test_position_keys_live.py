"""``b`` and ``x`` in the desk (Pilot) on the LIVE venue: the real Engine, BinanceVenue and
python-binance client against the local exchange. What the exchange receives is asserted:
nothing for a refused break-even, a new STOP_MARKET at break-even then the old one's cancel,
a reduce-only MARKET close only once the dialog is answered y.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tapedesk.engine.assembly import build_live_engine
from tapedesk.engine.binance.live import prepare_live
from tapedesk.engine.config import DeskConfig, StrategyConfig
from tapedesk.engine.keys import Credentials
from tapedesk.engine.position_actions import break_even_stop
from tapedesk.tui.app import make_app
from tapedesk.tui.position_actions import ClosePositionScreen

from tests.engine.test_live_engine_session import FAST, first_quote_strategy
from tests.live.conftest import KEY, SECRET, wait_until
from tests.local_exchange.request_log import ORDER
from tests.tui.helpers import ready, settle

__all__ = ["first_quote_strategy"]
D = Decimal


def _stops(exchange) -> list:
    return [a for a in exchange.account.open_algos("BTCUSDT") if a.type == "STOP_MARKET"]


async def _until(pilot, pred, what: str, timeout: float = 15.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not pred():
                await pilot.pause(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_b_and_x_on_the_live_venue(exchange, tmp_path, first_quote_strategy):
    cfg = DeskConfig(strategies=[StrategyConfig(name="test_first_quote_long")])
    cfg.binance.rest_url = exchange.rest_url
    cfg.binance.ws_url = exchange.ws_url
    creds = Credentials(api_key=KEY, api_secret=SECRET, environment="live")
    await exchange.set_price("BTCUSDT", "60000")
    venue = await prepare_live(cfg, creds, lambda _p: "BTCUSDT", say=lambda _l: None,
                               settings=FAST)
    engine = build_live_engine(tmp_path / "data", cfg, venue)
    app = make_app(engine, bell=False)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            await wait_until(lambda: len(exchange.socks) >= 3, what="market + user streams")
            await exchange.set_price("BTCUSDT", "60010")
            await _until(pilot, lambda: bool(engine.book.positions)
                         and engine.orders.covered("BTCUSDT") > 0, "entry and its stop")
            pos = engine.book.positions["BTCUSDT"]
            [old] = _stops(exchange)
            be = break_even_stop(pos, engine.orders.costs.taker_fee, engine.spec("BTCUSDT"))
            sent = len(exchange.requests.order_posts())

            await pilot.press("b")  # price 60,010: below break-even
            await settle(pilot)
            assert len(exchange.requests.order_posts()) == sent
            assert [a.algo_id for a in _stops(exchange)] == [old.algo_id]

            await exchange.set_price("BTCUSDT", "60150")
            await _until(pilot, lambda: venue.last_price.get("BTCUSDT", 0) >= 60150,
                         "the desk to see 60,150")
            await pilot.press("b")
            await settle(pilot)
            await _until(pilot, lambda: [a.trigger_price for a in _stops(exchange)] == [be],
                         "the stop amended on the exchange")
            assert exchange.account.algos[old.algo_id].status == "CANCELED"
            await _until(pilot, lambda: pos.stop_loss == be, "the desk to count the new stop")

            await pilot.press("x")
            await settle(pilot)
            assert isinstance(app.screen, ClosePositionScreen)
            await pilot.press("enter")  # Cancel: nothing sent
            await settle(pilot)
            closes = [r for r in exchange.requests.posts(ORDER) if r.reduces]
            assert closes == [] and exchange.account.positions["BTCUSDT"].amount > 0
            qty = exchange.account.positions["BTCUSDT"].amount

            await pilot.press("x")
            await settle(pilot)
            await pilot.press("y")
            await _until(pilot, lambda: exchange.account.positions["BTCUSDT"].amount == 0,
                         "flat on the exchange")
            [close] = [r for r in exchange.requests.posts(ORDER) if r.reduces]
            assert (close.params["type"], close.params["side"]) == ("MARKET", "SELL")
            assert D(close.params["quantity"]) == qty
            await _until(pilot, lambda: bool(engine.trades), "the round trip")
            assert engine.trades[-1].reason == "manual"
            await _until(pilot, lambda: not exchange.account.open_algos("BTCUSDT"),
                         "stop and target cancelled")
            assert not engine.halted and not engine.paused
    finally:
        await venue.client.close_connection()
