"""The whole desk live, against the local exchange on 127.0.0.1: the real Engine, journal,
BinanceVenue and python-binance client. A strategy signals, risk sizes, the entry fills, the
exchange-side stop and target are placed, the emergency stop flattens and verifies; then the
API secret is searched for in every file of the data dir (SQLite journal included)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from tapedesk.engine.assembly import build_live_engine
from tapedesk.engine.binance.live import prepare_live
from tapedesk.engine.binance.venue import LiveSettings
from tapedesk.engine.config import DeskConfig, StrategyConfig
from tapedesk.engine.events import Quote, Side, Signal
from tapedesk.engine.keys import Credentials
from tapedesk.engine.strategy import _REGISTRY, Strategy, register

from tests.live.conftest import KEY, SECRET, exchange, wait_until  # noqa: F401

FAST = LiveSettings(
    max_leverage=5, lookup_delay=0.05, flat_poll_s=0.05, backoff_base=0.05, backoff_max=0.2
)


class FirstQuoteLong(Strategy):
    """Goes long once, on the first quote, with a 0.2 % stop and a 0.4 % target."""

    def on_quote(self, quote: Quote) -> Signal | None:
        if getattr(self, "fired", False):
            return None
        self.fired = True
        entry = quote.ask
        return Signal(
            self.name,
            quote.symbol,
            Side.LONG,
            quote.ts,
            entry,
            stop_loss=entry * 0.998,
            take_profit=entry * 1.004,
            reasons=["test: first quote"],
        )


@pytest.fixture
def first_quote_strategy():
    """Registered only for this test, so `--strategy all` elsewhere never sees it."""
    register("test_first_quote_long")(FirstQuoteLong)
    yield
    _REGISTRY.pop("test_first_quote_long", None)


async def test_live_desk_trades_halts_flat_and_leaks_no_secret(
    exchange,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
    caplog,
    first_quote_strategy,
) -> None:
    caplog.set_level(logging.DEBUG)
    data_dir = tmp_path / "data"
    cfg = DeskConfig(strategies=[StrategyConfig(name="test_first_quote_long")])
    cfg.binance.rest_url = exchange.rest_url
    cfg.binance.ws_url = exchange.ws_url
    creds = Credentials(api_key=KEY, api_secret=SECRET, environment="live")
    await exchange.set_price("BTCUSDT", "60000")
    venue = await prepare_live(
        cfg, creds, lambda _prompt: "BTCUSDT", say=lambda _l: None, settings=FAST
    )
    engine = build_live_engine(data_dir, cfg, venue)
    run = asyncio.ensure_future(engine.run())
    try:
        await wait_until(lambda: len(exchange.socks) >= 3, what="market + user streams")
        await exchange.set_price("BTCUSDT", "60010")
        await wait_until(lambda: bool(engine.book.positions), 15, "the entry to fill")
        pos = engine.book.positions["BTCUSDT"]
        assert pos.side is Side.LONG and pos.qty > 0
        await wait_until(lambda: len(engine.orders.protection("BTCUSDT")) == 2, 10, "stop+TP")
        # sent once journaled (write-ahead): on the exchange a commit later
        await wait_until(lambda: len(exchange.account.open_algos()) == 2, 10, "stop+TP sent")
        open_orders = await venue.fetch_open_orders()
        assert {o.type.value for o in open_orders} == {"STOP_MARKET", "TAKE_PROFIT_MARKET"}
        await asyncio.wait_for(engine.emergency_stop(), 30)
        assert await venue.fetch_positions() == {}
        assert await venue.fetch_open_orders() == []
        assert engine.snapshot().halted
    finally:
        await engine.stop()
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await venue.client.close_connection()
    with sqlite3.connect(data_dir / "live.db") as conn:
        fills = conn.execute("SELECT role FROM fills ORDER BY id").fetchall()
        texts = " ".join(r[0] for r in conn.execute("SELECT text FROM explanations"))
    assert [r[0] for r in fills][:1] == ["entry"] and fills[-1][0] == "flatten"
    assert "Step 3/3 verify: the venue reports FLAT" in texts
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "live.db" for p in files)
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), f"secret found in {path}"
    assert SECRET not in caplog.text
