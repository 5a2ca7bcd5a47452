"""Against the local exchange: the account the desk sizes from, rejections in a trader's words,
and a restart after a stop filled while the desk was down."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.binance.account import Bracket
from tapedesk.engine.binance.errors import VenueError, explain
from tapedesk.engine.binance.rest import RestGate
from tapedesk.engine.binance.venue import BinanceVenue, LiveSettings, client_order_id
from tapedesk.engine.events import OrderIntent, OrderRole, OrderType

from tests.live.conftest import RecordingSink, wait_until
from tests.live.venue_fakes import make_venue

D = Decimal


def intent(cid, side="BUY", qty="0.002", type=OrderType.MARKET, role=OrderRole.ENTRY, **kw):
    return OrderIntent(cid, "BTCUSDT", side, type, D(qty), role, 0, **kw)


async def test_start_reads_wallet_available_brackets_and_fees(exchange, venue, sink):
    assert venue.balance == D("10000") == venue.available()
    tiers = venue.brackets["BTCUSDT"]
    assert tiers[0] == Bracket(D(50000), D("0.004"), D(0))
    assert [b.notional_cap for b in tiers] == sorted(b.notional_cap for b in tiers)
    spec = venue.spec("BTCUSDT")
    assert (spec.maint_margin_rate, spec.maint_amount) == (D("0.004"), D(0))
    if hasattr(spec, "margin_tiers"):  # engine.symbols knows every tier: the spec gets them
        assert len(spec.margin_tiers) == len(tiers)
    assert (venue.maker_fee, venue.taker_fee) == (D("0.0002"), D("0.0005"))
    cid = client_order_id("w1", OrderRole.ENTRY)
    venue.submit(intent(cid))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    fee = sink.fills[0].fee
    await wait_until(lambda: venue.balance == D("10000") - fee, what="ACCOUNT_UPDATE wallet")
    # available() follows ACCOUNT_UPDATE's "cw" (wallet minus isolated margin on Binance; the
    # local exchange sends the wallet there, so only the unit test checks the difference).


async def test_stop_that_would_trigger_then_exit_with_no_position_are_explained(
        exchange, venue, sink):
    sl = client_order_id("j1", OrderRole.STOP)
    venue.submit(intent(sl, "SELL", type=OrderType.STOP_MARKET, role=OrderRole.STOP,
                        stop_price=D("60100"), reduce_only=True))
    ex = client_order_id("j1", OrderRole.EXIT)
    venue.submit(intent(ex, "SELL", role=OrderRole.EXIT, reduce_only=True))
    await wait_until(lambda: sink.statuses(sl) == ["REJECTED"] == sink.statuses(ex))
    assert "would trigger immediately" in sink.last(sl).reason
    assert "-2021" in sink.last(sl).reason
    assert "no position" in sink.last(ex).reason and "-2022" in sink.last(ex).reason


async def test_every_rejection_names_the_cause_and_the_binance_code():
    cases = {-2021: "trigger immediately", -2022: "no position", -4164: "below the symbol's",
             -1111: "more decimals", -2019: "margin is insufficient", -4120: "wrong endpoint"}
    for code, words in cases.items():
        venue, gate, sink = make_venue()
        gate.answers["futures_create_order"] = VenueError(explain(code, "msg"), code=code)
        venue.submit(intent("td-r1-x", "SELL", role=OrderRole.EXIT, reduce_only=True))
        await wait_until(lambda sink=sink: sink.statuses("td-r1-x") == ["REJECTED"])
        reason = sink.last("td-r1-x").reason
        assert words in reason and str(code) in reason, reason
        await venue.close()


async def test_restart_after_the_stop_filled_while_the_desk_was_down(exchange, endpoints,
                                                                     client):
    settings = LiveSettings(lookup_delay=0.05, backoff_base=0.05, backoff_max=0.2,
                            catch_up_wait_s=0.05)
    first, sink = BinanceVenue(RestGate(client), endpoints, ["BTCUSDT"], settings), RecordingSink()
    first.bind(sink)
    await first.start()
    cid = client_order_id("k9", OrderRole.ENTRY)
    first.submit(intent(cid, qty="0.003"))
    await wait_until(lambda: sink.statuses(cid)[-1:] == ["FILLED"])
    stop = intent(client_order_id("k9", OrderRole.STOP), "SELL", qty="0.003",
                  type=OrderType.STOP_MARKET, role=OrderRole.STOP, stop_price=D("59900"),
                  reduce_only=True)
    target = intent(client_order_id("k9", OrderRole.TAKE_PROFIT), "SELL", qty="0.003",
                    type=OrderType.TAKE_PROFIT_MARKET, role=OrderRole.TAKE_PROFIT,
                    stop_price=D("60500"), reduce_only=True)
    first.submit(stop)
    first.submit(target)
    await wait_until(lambda: len(exchange.account.open_algos()) == 2)
    await first.close()  # the desk is gone ...
    exchange.account.partial_fills = [D("0.5")]
    await exchange.set_price("BTCUSDT", "59850")  # ... its stop triggers, fills in two trades
    await exchange.set_price("BTCUSDT", "59840")
    assert exchange.account.positions["BTCUSDT"].amount == 0
    stop_trades = [t for t in exchange.account.trades if t["side"] == "SELL"]
    assert len(stop_trades) == 2

    second, sink2 = BinanceVenue(RestGate(client), endpoints, ["BTCUSDT"], settings), \
        RecordingSink()
    second.bind(sink2)
    await second.start()
    try:
        second.track([stop, target])  # restored from the journal with their real types
        await wait_until(lambda: sink2.statuses(stop.client_id)[-1:] == ["FILLED"],
                         what="the stop's fills while down")
        fills = sink2.fills
        assert [(f.client_id, f.role, f.side) for f in fills] == [
            (stop.client_id, OrderRole.STOP, "SELL")] * 2
        assert [f.trade_id for f in fills] == [str(t["id"]) for t in stop_trades]
        assert [f.price for f in fills] == [D(t["price"]) for t in stop_trades]
        assert [f.fee for f in fills] == [D(t["commission"]) for t in stop_trades]
        assert sum(f.qty for f in fills) == D("0.003")
        assert sink2.statuses(target.client_id) in ([], ["NEW"])  # still open: engine cancels
        second.track([stop])  # tracked twice, or a reconnect: nothing reported twice
        await second.resync()
        assert len(sink2.fills) == 2
    finally:
        await second.close()
