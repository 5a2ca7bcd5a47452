"""Against the local exchange with the real Engine, BinanceVenue and python-binance client:
an entry MARKET order fills in two trades; after each, the exchange holds a reduce-only stop
and target for the desk's whole open quantity (the first-fill-only stop of issue 8 is gone),
and ``status`` shows the stop the exchange acknowledged."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from tapedesk.engine.assembly import build_live_engine
from tapedesk.engine.binance.live import prepare_live
from tapedesk.engine.config import DeskConfig, StrategyConfig
from tapedesk.engine.keys import Credentials

from tests.engine.test_live_engine_session import FAST, first_quote_strategy  # noqa: F401
from tests.live.conftest import KEY, SECRET, exchange, wait_until  # noqa: F401

SYM = "BTCUSDT"


def cover(exchange) -> tuple[Decimal, list[Decimal], list[Decimal]]:  # noqa: F811
    acct = exchange.account
    stops = [a.qty for a in acct.open_algos(SYM) if a.type == "STOP_MARKET"]
    targets = [a.qty for a in acct.open_algos(SYM) if a.type == "TAKE_PROFIT_MARKET"]
    return abs(acct.positions[SYM].amount), stops, targets


async def test_a_market_entry_filled_in_two_trades_is_protected_in_full(
    exchange,  # noqa: F811
    tmp_path: Path,
    first_quote_strategy,  # noqa: F811
) -> None:
    cfg = DeskConfig(strategies=[StrategyConfig(name="test_first_quote_long")])
    cfg.binance.rest_url = exchange.rest_url
    cfg.binance.ws_url = exchange.ws_url
    creds = Credentials(api_key=KEY, api_secret=SECRET, environment="live")
    await exchange.set_price(SYM, "60000")
    exchange.account.partial_fills = [Decimal("0.4")]
    venue = await prepare_live(cfg, creds, lambda _p: SYM, say=lambda _l: None, settings=FAST)
    engine = build_live_engine(tmp_path / "data", cfg, venue)
    run = asyncio.ensure_future(engine.run())
    try:
        await wait_until(lambda: len(exchange.socks) >= 3, what="market + user streams")
        await exchange.set_price(SYM, "60010")
        await wait_until(lambda: bool(engine.book.positions), 15, "the first trade")
        first = engine.book.positions[SYM].qty
        await wait_until(lambda: cover(exchange)[1] == [first], 10, "a stop for the first trade")
        await exchange.set_price(SYM, "60012")  # the rest of the market order fills
        await wait_until(lambda: engine.book.positions[SYM].qty > first, 10, "the second trade")
        total = engine.book.positions[SYM].qty
        await wait_until(lambda: cover(exchange) == (total, [total], [total]), 10,
                         "one stop and one target for the whole quantity")
        await wait_until(lambda: engine.snapshot().unprotected == (), 5, "covered")
        pos = engine.snapshot().positions[SYM]
        assert pos.stop_loss is not None and pos.qty == total
        await asyncio.wait_for(engine.emergency_stop(), 30)
        assert await venue.fetch_positions() == {}
    finally:
        await engine.stop()
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await venue.client.close_connection()
