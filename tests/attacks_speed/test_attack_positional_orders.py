"""Orders.intent and Orders.enter now build OrderIntent and Plan positionally. A field moved
or added in events.OrderIntent or orders.Plan would then put a stop price into ``price``,
a strategy name into ``reduce_only``... silently (the types are not checked at run time).
Guard: through the real engine's order owner, every field of what is sent and planned is
read back by name and must be what the keyword meaning says."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.backtest import _start_sync, build_backtest_engine
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.events import (
    Bar,
    Decision,
    OrderRole,
    OrderType,
    Side,
    Signal,
)

T0 = 1_704_067_200_000


def test_an_entry_and_its_plan_carry_each_value_in_its_own_field():
    engine, _ = build_backtest_engine([], DeskConfig())
    _start_sync(engine)
    engine.process(Bar("BTCUSDT", T0, T0 + 59_999, 40_000, 40_010, 39_990, 40_000, 1.0))
    sent = []
    engine.venue.submit = sent.append  # type: ignore[method-assign]
    orders = engine.orders
    sig = Signal("strat_a", "BTCUSDT", Side.SHORT, T0, 40_000.0, 40_100.04, 39_800.06)
    orders.enter(sig, Decision(sig, True, Decimal("0.123"), 7), "td-x-e")
    (intent,) = sent
    assert (intent.client_id, intent.symbol, intent.side, intent.type, intent.qty,
            intent.role, intent.ts, intent.price, intent.stop_price, intent.reduce_only,
            intent.strategy) == ("td-x-e", "BTCUSDT", "SELL", OrderType.MARKET,
                                 Decimal("0.123"), OrderRole.ENTRY, engine.clock.now(), None,
                                 None, False, "strat_a")
    plan = orders.plans["BTCUSDT"]
    # The stop and target rounded toward entry (a short: stop down, target up).
    assert (plan.symbol, plan.side, plan.stop, plan.target, plan.strategy, plan.leverage,
            plan.entry_id, plan.entry_unknown, plan.initial_stop) == (
        "BTCUSDT", Side.SHORT, Decimal("40100.0"), Decimal("39800.1"), "strat_a", 7,
        "td-x-e", False, Decimal("40100.0"))


def test_a_protective_intent_carries_its_stop_in_stop_price():
    engine, _ = build_backtest_engine([], DeskConfig())
    _start_sync(engine)
    it = engine.orders.intent("ETHUSDT", "BUY", OrderType.STOP_MARKET, Decimal("2"),
                              OrderRole.STOP, stop=Decimal("2100.5"), reduce_only=True,
                              strategy="s", client_id="c-1")
    assert (it.client_id, it.symbol, it.side, it.type, it.qty, it.role, it.price,
            it.stop_price, it.reduce_only, it.strategy) == (
        "c-1", "ETHUSDT", "BUY", OrderType.STOP_MARKET, Decimal("2"), OrderRole.STOP, None,
        Decimal("2100.5"), True, "s")
