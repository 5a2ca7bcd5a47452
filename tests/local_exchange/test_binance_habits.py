"""The local exchange does what real Binance USDT-M does, switch by switch (behaviour.py),
checked with a plain signed client so the desk's own code takes no part."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest

from tests.local_exchange import LocalExchange
from tests.local_exchange.raw_client import RawClient

D = Decimal
KEY, SECRET = "habits-key-0123456789", "habits-secret-0123456789"


async def settle(pred, timeout: float = 3.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < end, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def ex():
    exchange = LocalExchange(api_key=KEY, api_secret=SECRET)
    await exchange.start()
    yield exchange
    await exchange.stop()


@pytest.fixture
async def cli(ex):
    c = RawClient(f"http://127.0.0.1:{ex.port}", KEY, SECRET)
    await c.listen()
    await settle(lambda: ex.private_connected() == 1)
    yield c
    await c.close()


def market(side="BUY", qty="0.010", **kw):
    return {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty, **kw}


async def test_market_order_fills_in_three_trades_each_with_its_fee(ex, cli):
    ex.behaviour.market_split = [D("0.5"), D("0.3"), D("0.2")]
    ex.behaviour.ack_replies = True
    reply = await cli.ok("POST", "/fapi/v1/order", newClientOrderId="e1", **market())
    assert (reply["status"], reply["executedQty"]) == ("NEW", "0")  # ACK, though it filled
    await settle(lambda: cli.kinds().count("ACCOUNT:ORDER") == 3)
    trades = [e["o"] for e in cli.events if e["e"] == "ORDER_TRADE_UPDATE"
              and e["o"]["x"] == "TRADE"]
    assert [t["X"] for t in trades] == ["PARTIALLY_FILLED", "PARTIALLY_FILLED", "FILLED"]
    assert [t["l"] for t in trades] == ["0.005", "0.003", "0.002"]
    assert [t["L"] for t in trades] == ["60000.1", "60000.2", "60000.3"]  # a tick worse each
    assert len({t["t"] for t in trades}) == 3
    fees = [D(t["n"]) for t in trades]
    assert fees == [D(t["l"]) * D(t["L"]) * D("0.0005") for t in trades]
    # ACCOUNT_UPDATE after every trade, the wallet falling by exactly that trade's fee
    wallets = [D(e["a"]["B"][0]["wb"]) for e in cli.events if e["e"] == "ACCOUNT_UPDATE"]
    assert wallets == [D(10000) - sum(fees[: i + 1]) for i in range(3)]
    rows = await cli.ok("GET", "/fapi/v1/userTrades", symbol="BTCUSDT",
                        orderId=reply["orderId"])
    assert [r["commission"] for r in rows] == [str(f.normalize()) for f in fees]
    assert set(rows[0]) >= {"buyer", "commission", "commissionAsset", "id", "maker", "orderId",
                            "price", "qty", "quoteQty", "realizedPnl", "side",
                            "positionSide", "symbol", "time"}
    order = await cli.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="e1")
    assert (order["status"], order["executedQty"]) == ("FILLED", "0.01")


async def test_order_is_live_before_look_ups_see_it(ex, cli):
    ex.behaviour.hide_next_orders, ex.behaviour.hide_for_s = 1, 0.6
    await cli.ok("POST", "/fapi/v1/order", newClientOrderId="h1", **market())
    assert ex.account.positions["BTCUSDT"].amount == D("0.010")  # it traded at once
    status, body = await cli.call("GET", "/fapi/v1/order", symbol="BTCUSDT",
                                  origClientOrderId="h1")
    assert (status, body) == (400, {"code": -2013, "msg": "Order does not exist."})
    rows = await cli.ok("GET", "/fapi/v1/allOrders", symbol="BTCUSDT")
    assert rows == []
    await asyncio.sleep(0.65)
    order = await cli.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="h1")
    assert order["status"] == "FILLED"


async def test_hidden_orders_can_hold_their_stream_events_too(ex, cli):
    ex.behaviour.hide_next_orders, ex.behaviour.hide_for_s = 1, 0.5
    ex.behaviour.hide_stream = True
    await cli.ok("POST", "/fapi/v1/order", newClientOrderId="h2", **market())
    await asyncio.sleep(0.2)
    assert cli.events == []
    await settle(lambda: "ORDER:TRADE/FILLED" in cli.kinds())


async def test_503_after_the_order_was_accepted(ex, cli):
    ex.inject(path="/fapi/v1/order", method="POST", status=503, after=True)
    status, _ = await cli.call("POST", "/fapi/v1/order", newClientOrderId="u1", **market())
    assert status == 503
    assert ex.account.positions["BTCUSDT"].amount == D("0.010")
    (req,) = ex.requests.posts()
    assert (req.status, req.client_id) == (503, "u1") and "signature" not in req.params
    # same client id again after it filled: Binance accepts it (ids are unique among OPEN
    # orders only), so a blind re-send doubles the position
    await cli.ok("POST", "/fapi/v1/order", newClientOrderId="u1", **market())
    assert ex.account.positions["BTCUSDT"].amount == D("0.020")
    assert ex.requests.sent_twice() == ["u1"]


async def test_triggered_stop_spawns_an_order_with_its_own_id_reported_first(ex, cli):
    ex.behaviour.algo_new_client_id = ex.behaviour.algo_order_first = True
    await cli.ok("POST", "/fapi/v1/order", newClientOrderId="e", **market())
    algo = await cli.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL",
                        type="STOP_MARKET", symbol="BTCUSDT", side="SELL",
                        triggerPrice="59900", closePosition=True, clientAlgoId="s1")
    cli.events.clear()
    await ex.set_price("BTCUSDT", "59890")
    await settle(lambda: "ALGO:FINISHED" in cli.kinds())
    kinds = cli.kinds()
    assert kinds.index("ORDER:TRADE/FILLED") < kinds.index("ALGO:TRIGGERED")
    fill = next(e["o"] for e in cli.events if e["e"] == "ORDER_TRADE_UPDATE"
                and e["o"]["X"] == "FILLED")
    assert fill["c"] != "s1" and fill["ot"] == "STOP_MARKET"
    triggered = next(e["o"] for e in cli.events if e["e"] == "ALGO_UPDATE"
                     and e["o"]["X"] == "TRIGGERED")
    assert triggered["ai"] == str(fill["i"]) and triggered["caid"] == "s1"
    row = await cli.ok("GET", "/fapi/v1/algoOrder", algoId=algo["algoId"])
    assert (row["algoStatus"], row["actualOrderId"]) == ("FINISHED", str(fill["i"]))
    assert ex.account.positions["BTCUSDT"].amount == 0


async def test_immediate_trigger_and_reduce_only_follow_the_real_rules(ex, cli):
    await cli.ok("POST", "/fapi/v1/order", **market())
    stop = {"algoType": "CONDITIONAL", "type": "STOP_MARKET", "symbol": "BTCUSDT",
            "side": "SELL", "quantity": "0.010", "reduceOnly": True}
    status, body = await cli.call("POST", "/fapi/v1/algoOrder", triggerPrice="60000", **stop)
    assert body["code"] == -2021  # a sell stop at or above the last price fires at once
    await cli.ok("POST", "/fapi/v1/algoOrder", triggerPrice="59990", **stop)
    # on the mark price it is the mark that counts
    await ex.set_price("BTCUSDT", "60000", mark="59950")
    status, body = await cli.call("POST", "/fapi/v1/algoOrder", triggerPrice="59960",
                                  workingType="MARK_PRICE", **stop)
    assert body["code"] == -2021
    status, body = await cli.call("POST", "/fapi/v1/order", reduceOnly=True,
                                  **market("BUY"))  # same side as the long: no reduction
    assert (status, body["code"]) == (400, -2022)
    await cli.ok("POST", "/fapi/v1/order", reduceOnly=True, **market("SELL"))
    status, body = await cli.call("POST", "/fapi/v1/order", reduceOnly=True, **market("SELL"))
    assert body == {"code": -2022, "msg": "ReduceOnly Order is rejected."}


async def test_user_trades_filter_by_order_and_start_time(ex, cli):
    first = await cli.ok("POST", "/fapi/v1/order", **market())
    await asyncio.sleep(0.01)
    second = await cli.ok("POST", "/fapi/v1/order", **market("SELL", reduceOnly=True))
    rows = await cli.ok("GET", "/fapi/v1/userTrades", symbol="BTCUSDT")
    assert [r["orderId"] for r in rows] == [first["orderId"], second["orderId"]]
    assert D(rows[1]["realizedPnl"]) == D("-0.001")  # bought at the ask, sold at the bid
    only = await cli.ok("GET", "/fapi/v1/userTrades", symbol="BTCUSDT",
                        startTime=rows[1]["time"])
    assert [r["id"] for r in only] == [rows[1]["id"]]
    _status, body = await cli.call("GET", "/fapi/v1/userTrades")
    assert body["code"] == -1102


async def test_multi_assets_and_hedge_mode(ex, cli):
    assert await cli.ok("GET", "/fapi/v1/multiAssetsMargin") == {"multiAssetsMargin": False}
    await cli.ok("POST", "/fapi/v1/multiAssetsMargin", multiAssetsMargin=True)
    assert (await cli.ok("GET", "/fapi/v2/account"))["multiAssetsMargin"] is True
    assert (await cli.ok("GET", "/fapi/v1/accountConfig"))["multiAssetsMargin"] is True
    assert "multiAssetsMargin" not in await cli.ok("GET", "/fapi/v3/account")  # V3 moved it
    status, body = await cli.call("POST", "/fapi/v1/marginType", symbol="BTCUSDT",
                                  marginType="ISOLATED")
    assert status == 400
    assert body == {"code": -4168, "msg": "Unable to adjust to isolated-margin mode under the "
                    "Multi-Assets mode."}
    await settle(lambda: any(e["e"] == "ACCOUNT_CONFIG_UPDATE" for e in cli.events))
    assert cli.events[-1]["ai"] == {"j": True}
    await cli.ok("POST", "/fapi/v1/positionSide/dual", dualSidePosition=True)
    assert await cli.ok("GET", "/fapi/v1/positionSide/dual") == {"dualSidePosition": True}
    _status, body = await cli.call("POST", "/fapi/v1/order", **market())
    assert body["code"] == -4061  # hedge mode wants positionSide LONG/SHORT
    await cli.ok("POST", "/fapi/v1/order", positionSide="LONG", **market())


async def test_small_wallet_funding_commission_and_brackets():
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, balance="1000", taker_rate="0.0004")
    await ex.start()
    cli = RawClient(f"http://127.0.0.1:{ex.port}", KEY, SECRET)
    try:
        await cli.listen()
        await settle(lambda: ex.private_connected() == 1)
        acct = await cli.ok("GET", "/fapi/v3/account")
        assert (acct["totalWalletBalance"], acct["availableBalance"]) == ("1000", "1000")
        rate = await cli.ok("GET", "/fapi/v1/commissionRate", symbol="BTCUSDT")
        assert rate == {"symbol": "BTCUSDT", "makerCommissionRate": "0.0002",
                        "takerCommissionRate": "0.0004"}
        brackets = await cli.ok("GET", "/fapi/v1/leverageBracket", symbol="BTCUSDT")
        tiers = brackets["brackets"]
        assert len(tiers) >= 5 and tiers[0]["notionalFloor"] == 0
        for lo, hi in itertools.pairwise(tiers):  # maint margin continuous at caps
            assert hi["notionalFloor"] == lo["notionalCap"]
            cap = D(lo["notionalCap"])
            assert abs(cap * D(str(lo["maintMarginRatio"])) - D(str(lo["cum"]))
                       - (cap * D(str(hi["maintMarginRatio"])) - D(str(hi["cum"])))) < D("1e-6")
        await cli.ok("POST", "/fapi/v1/order", **market(qty="0.002"))
        before = ex.account.wallet
        paid = await ex.funding("BTCUSDT", "0.0001")
        assert paid == D("-0.012") and ex.account.wallet == before - D("0.012")
        await settle(lambda: "ACCOUNT:FUNDING_FEE" in cli.kinds())
        ev = next(e["a"] for e in cli.events if e["e"] == "ACCOUNT_UPDATE"
                  and e["a"]["m"] == "FUNDING_FEE")
        assert (D(ev["B"][0]["bc"]), D(ev["B"][0]["wb"])) == (D("-0.012"), ex.account.wallet)
        assert ex.wallet_change() == D("-0.012") - D("0.002") * D("60000.1") * D("0.0004")
    finally:
        await cli.close()
        await ex.stop()


async def test_stop_fills_while_nobody_listens_and_orders_outlive_the_client(ex):
    first = RawClient(f"http://127.0.0.1:{ex.port}", KEY, SECRET)
    await first.ok("POST", "/fapi/v1/order", **market())
    await first.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", type="STOP_MARKET",
                   symbol="BTCUSDT", side="SELL", triggerPrice="59900", closePosition=True)
    await first.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL",
                   type="TAKE_PROFIT_MARKET", symbol="BTCUSDT", side="SELL",
                   triggerPrice="60200", closePosition=True)
    await first.close()  # the desk is gone
    assert ex.private_connected() == 0
    await ex.set_price("BTCUSDT", "59850")
    second = RawClient(f"http://127.0.0.1:{ex.port}", KEY, SECRET)
    try:
        trades = await second.ok("GET", "/fapi/v1/userTrades", symbol="BTCUSDT")
        assert [t["side"] for t in trades] == ["BUY", "SELL"]
        assert D(trades[1]["realizedPnl"]) < 0
        left = await second.ok("GET", "/fapi/v1/openAlgoOrders", symbol="BTCUSDT")
        assert left == []  # closePosition target expired with its position
    finally:
        await second.close()


async def test_protection_stopwatch_sees_an_unprotected_position(ex, cli):
    await cli.ok("POST", "/fapi/v1/order", **market())
    await asyncio.sleep(0.3)
    await cli.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", type="STOP_MARKET",
                 symbol="BTCUSDT", side="SELL", triggerPrice="59900", quantity="0.004",
                 reduceOnly=True)
    await asyncio.sleep(0.1)
    assert ex.account.protection.unprotected_now() == ["BTCUSDT"]  # 0.006 still uncovered
    await cli.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", type="STOP_MARKET",
                 symbol="BTCUSDT", side="SELL", triggerPrice="59800", quantity="0.006",
                 reduceOnly=True)
    await settle(lambda: ex.account.protection.unprotected_now() == [])
    assert 0.35 < ex.account.protection.longest() < 2.0


async def test_market_jumps_after_a_fill_when_asked(ex, cli):
    ex.behaviour.price_after_fill = D("59850")
    await cli.ok("POST", "/fapi/v1/order", **market())
    await settle(lambda: ex.account.prices["BTCUSDT"] == D("59850"))
    stop = {"algoType": "CONDITIONAL", "type": "STOP_MARKET", "symbol": "BTCUSDT",
            "side": "SELL", "closePosition": True}
    status, body = await cli.call("POST", "/fapi/v1/algoOrder", triggerPrice="59880", **stop)
    assert (status, body["code"]) == (400, -2021)  # the stop the signal wanted is passed
    assert ex.behaviour.price_after_fill is None  # one-shot
    await cli.ok("POST", "/fapi/v1/order", **market())
    assert ex.account.prices["BTCUSDT"] == D("59850")


async def test_crossed_funding_update_carries_the_balance_only(ex, cli):
    await cli.ok("POST", "/fapi/v1/order", **market())
    await ex.funding("BTCUSDT", "-0.0002")  # negative: shorts pay longs
    await settle(lambda: "ACCOUNT:FUNDING_FEE" in cli.kinds())
    ev = next(e["a"] for e in cli.events if e["e"] == "ACCOUNT_UPDATE"
              and e["a"]["m"] == "FUNDING_FEE")
    assert ev["P"] == [] and D(ev["B"][0]["bc"]) == D("0.12")
    income = await cli.ok("GET", "/fapi/v1/income", symbol="BTCUSDT", incomeType="FUNDING_FEE")
    assert [r["income"] for r in income] == ["0.12"]


async def test_deposit_moves_the_wallet_not_the_pnl(ex, cli):
    await ex.deposit("1000")
    await settle(lambda: "ACCOUNT:DEPOSIT" in cli.kinds())
    ev = next(e["a"] for e in cli.events if e["e"] == "ACCOUNT_UPDATE")
    assert (ev["B"][0]["wb"], ev["B"][0]["bc"]) == ("11000", "1000")
    assert (await cli.ok("GET", "/fapi/v3/account"))["totalWalletBalance"] == "11000"
    assert ex.wallet_change() == 0


async def test_market_order_can_expire_partly_filled(ex, cli):
    ex.behaviour.expire_after = D("0.4")
    await cli.ok("POST", "/fapi/v1/order", newClientOrderId="x1", **market())
    await settle(lambda: "ORDER:EXPIRED/EXPIRED" in cli.kinds())
    assert cli.kinds()[:3] == ["ORDER:NEW/NEW", "ORDER:TRADE/PARTIALLY_FILLED", "ACCOUNT:ORDER"]
    order = await cli.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="x1")
    assert (order["status"], order["executedQty"]) == ("EXPIRED", "0.004")
    assert ex.account.positions["BTCUSDT"].amount == D("0.004")


async def test_orphaned_conditionals_hit_the_algo_order_limit(ex, cli):
    await cli.ok("POST", "/fapi/v1/order", **market())
    tp = {"algoType": "CONDITIONAL", "type": "TAKE_PROFIT_MARKET", "symbol": "BTCUSDT",
          "side": "SELL", "quantity": "0.010", "reduceOnly": True}
    for i in range(10):
        await cli.ok("POST", "/fapi/v1/algoOrder", triggerPrice=str(61000 + i), **tp)
    status, body = await cli.call("POST", "/fapi/v1/algoOrder", triggerPrice="62000", **tp)
    assert (status, body["code"]) == (400, -4045)


async def test_order_rate_limit_answers_429_minus_1015():
    ex = LocalExchange(api_key=KEY, api_secret=SECRET, order_limit_10s=3)
    await ex.start()
    cli = RawClient(f"http://127.0.0.1:{ex.port}", KEY, SECRET)
    try:
        for _ in range(3):
            await cli.ok("POST", "/fapi/v1/order", **market(qty="0.002"))
        status, body = await cli.call("POST", "/fapi/v1/order", **market(qty="0.002"))
        assert (status, body["code"]) == (429, -1015)
        assert ex.account.positions["BTCUSDT"].amount == D("0.006")  # the 4th never traded
    finally:
        await cli.close()
        await ex.stop()


async def test_depth_snapshot_and_diff_stream_chain_by_update_ids(ex, cli):
    ws = await cli.session.ws_connect(
        f"ws://127.0.0.1:{ex.port}/public/stream?streams=btcusdt@depth@100ms")
    try:
        await settle(lambda: any(s.kind == "public" for s in ex.socks))
        snap = await cli.ok("GET", "/fapi/v1/depth", symbol="BTCUSDT", limit=5)
        assert snap["bids"][0] == ["60000", "0.5"] and snap["asks"][0] == ["60000.1", "0.4"]
        await ex.set_price("BTCUSDT", "60000.2")
        await ex.set_price("BTCUSDT", "60000.3")
        ex.depth["BTCUSDT"].gap()
        await ex.set_price("BTCUSDT", "60000.4")
        events = [(await ws.receive_json())["data"] for _ in range(3)]
        assert events[0]["pu"] == snap["lastUpdateId"]  # continues from the snapshot
        assert events[1]["pu"] == events[0]["u"]  # chained
        assert events[2]["pu"] != events[1]["u"]  # the gap a client must resync on
        assert ["59999.6", "0"] in events[0]["b"]  # the level that fell off the book
        again = await cli.ok("GET", "/fapi/v1/depth", symbol="BTCUSDT", limit=5)
        assert again["lastUpdateId"] == events[2]["u"]
    finally:
        await ws.close()
