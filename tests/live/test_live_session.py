"""Going live (confirmation, nothing sent before it) and a whole live session whose logs and
data dir are then searched for the secret."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest
from tapedesk.engine.binance.endpoints import resolve
from tapedesk.engine.binance.live import LiveAborted, endpoints_for, paper_feed, prepare_live
from tapedesk.engine.binance.venue import LiveSettings, client_order_id
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.events import OrderIntent, OrderRole, OrderType, Quote
from tapedesk.engine.keys import Credentials

from tests.live.conftest import KEY, SECRET, RecordingSink, wait_until

D = Decimal
FAST = LiveSettings(max_leverage=5, lookup_delay=0.05, flat_poll_s=0.05, backoff_base=0.05,
                    backoff_max=0.2)


def config_for(exchange) -> DeskConfig:
    cfg = DeskConfig()
    cfg.binance.rest_url = exchange.rest_url
    cfg.binance.ws_url = exchange.ws_url
    return cfg


def creds(environment="live") -> Credentials:
    return Credentials(api_key=KEY, api_secret=SECRET, environment=environment)


def test_flags_and_overrides_pick_the_endpoints():
    cfg = DeskConfig()
    assert endpoints_for(cfg.binance).name == "production"
    assert endpoints_for(cfg.binance, testnet=True).rest_url.startswith(
        "https://testnet.binancefuture.com")
    assert endpoints_for(cfg.binance, demo=True).name == "demo"
    cfg.binance.rest_url = "http://127.0.0.1:9/fapi"
    ep = endpoints_for(cfg.binance, testnet=True)
    assert ep.rest_url == "http://127.0.0.1:9/fapi" and ep.name == "testnet" and ep.is_loopback
    with pytest.raises(ValueError):
        resolve(testnet=True, demo=True)


async def test_wrong_confirmation_aborts_with_nothing_sent(exchange):
    lines: list[str] = []
    with pytest.raises(LiveAborted, match="nothing was sent"):
        await prepare_live(config_for(exchange), creds(), lambda prompt: "ETHUSDT",
                           say=lines.append, settings=FAST)
    assert not [r for r in exchange.requests if r[0] != "GET"]  # read-only so far
    assert exchange.account.positions["BTCUSDT"].margin_type == "CROSSED"
    assert any("wallet 10,000.00 USDT" in line for line in lines)
    assert any("will set ISOLATED margin (now CROSSED) and leverage 5x" in line
               for line in lines)


async def test_testnet_keys_are_refused_for_production():
    cfg = DeskConfig()
    with pytest.raises(LiveAborted, match="testnet keys"):
        await prepare_live(cfg, creds("testnet"), lambda p: "BTCUSDT", settings=FAST)


async def test_no_keys_no_live():
    with pytest.raises(LiveAborted, match="keys set"):
        await prepare_live(DeskConfig(), None, lambda p: "BTCUSDT")


async def test_full_live_session_leaves_the_secret_nowhere(exchange, tmp_path, caplog):
    """Keys in, a market feed, a trade with stop and target, a disconnect, an emergency stop;
    then every file under the data dir, every log line and every repr is searched."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    handler = logging.FileHandler(data_dir / "tapedesk.log")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    prompts: list[str] = []
    sink = RecordingSink()
    venue = None
    feed = None
    try:
        cfg = config_for(exchange)
        venue = await prepare_live(cfg, creds(), lambda p: prompts.append(p) or "btcusdt",
                                   say=logging.getLogger("tapedesk").info, settings=FAST)
        venue.bind(sink)
        await venue.start()  # the user stream (Engine.start does this in the desk)
        events: list = []
        feed = paper_feed(venue.endpoints, ["BTCUSDT"], events.append)
        await feed.start()
        await wait_until(lambda: len(exchange.socks) >= 3, what="market + user streams")
        await exchange.set_price("BTCUSDT", "60000")
        await wait_until(lambda: any(isinstance(e, Quote) for e in events))
        for e in events:
            venue.on_market(e)
        cid = client_order_id("s1", OrderRole.ENTRY)
        venue.submit(OrderIntent(cid, "BTCUSDT", "BUY", OrderType.MARKET, D("0.003"),
                                 OrderRole.ENTRY, 0))
        await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
        venue.submit(OrderIntent(client_order_id("s1", OrderRole.STOP), "BTCUSDT", "SELL",
                                 OrderType.STOP_MARKET, D("0.003"), OrderRole.STOP, 0,
                                 stop_price=D("59800"), reduce_only=True))
        exchange.inject(path="/fapi/v1/order", method="POST", status=503, after=True)
        venue.submit(OrderIntent("td-s2-e", "BTCUSDT", "BUY", OrderType.MARKET, D("0.002"),
                                 OrderRole.ENTRY, 0))
        await wait_until(lambda: sink.statuses("td-s2-e")[-1:] == ["FILLED"])
        await exchange.drop_sockets()
        await wait_until(lambda: venue.user_stream.connects >= 2)
        assert await venue.flatten_all(logging.getLogger("tapedesk").warning)
        (data_dir / "status.txt").write_text(repr(venue.client) + repr(creds()) + str(prompts))
    finally:
        if feed:
            await feed.stop()
        if venue:
            await venue.close()
            await venue.client.close_connection()
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
    assert "BTCUSDT" in prompts[0]
    files = [p for p in Path(data_dir).rglob("*") if p.is_file()]
    assert files and (data_dir / "tapedesk.log").stat().st_size > 0
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), f"secret found in {path}"
    assert SECRET not in caplog.text
    assert "verified flat" in caplog.text
    assert SECRET not in "".join(sink.errors) + repr(sink.updates)
