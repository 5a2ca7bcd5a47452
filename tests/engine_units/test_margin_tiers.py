"""Maintenance margin from the leverage brackets: a large position sits in a higher bracket,
so it is liquidated sooner than the first bracket alone would say (paper and the LP shown)."""

from __future__ import annotations

import itertools
from decimal import Decimal

from tapedesk.engine.events import Position, Side
from tapedesk.engine.positions import liquidation_price, set_isolated_margin
from tapedesk.engine.symbols import (
    BTC_TIERS,
    MarginTier,
    spec_for,
    tiers,
    tiers_from_leverage_bracket,
)


def test_cum_is_derived_so_the_maintenance_margin_is_continuous_at_each_floor():
    t = tiers(("0", "0.004"), ("50000", "0.005"), ("600000", "0.01"))
    assert [x.cum for x in t] == [Decimal(0), Decimal(50), Decimal(3050)]
    for lo, hi in itertools.pairwise(t):
        at = hi.floor
        assert at * lo.mmr - lo.cum == at * hi.mmr - hi.cum


def test_the_bracket_is_chosen_by_notional():
    spec = spec_for("BTCUSDT")
    assert spec.maintenance(Decimal(10_000)) == (Decimal("0.004"), Decimal(0))
    assert spec.maintenance(Decimal(50_000)) == (Decimal("0.005"), Decimal(50))
    assert spec.maintenance(Decimal(1_000_000))[0] == Decimal("0.01")
    assert spec_for("ETHUSDT").maintenance(Decimal(700_000))[0] == Decimal("0.0065")
    assert spec_for("DOGEUSDT").maintenance(Decimal(10**9)) == (Decimal("0.01"), Decimal(0))


def test_a_large_position_gets_the_liquidation_price_of_its_bracket():
    pos = Position("BTCUSDT", Side.LONG, Decimal(20), Decimal(50_000), 5, 0)  # 1,000,000 notional
    set_isolated_margin(pos, spec_for("BTCUSDT"))
    first_only = liquidation_price(Side.LONG, pos.qty, pos.entry_price, pos.margin,
                                   Decimal("0.004"), Decimal(0))
    mmr, cum = spec_for("BTCUSDT").maintenance(Decimal(1_000_000))
    assert pos.liquidation_price == liquidation_price(Side.LONG, pos.qty, pos.entry_price,
                                                      pos.margin, mmr, cum)
    assert pos.liquidation_price > first_only  # a long is liquidated sooner


def test_brackets_read_from_binance_leverage_bracket_replace_the_defaults():
    row = {"symbol": "BTCUSDT", "brackets": [
        {"bracket": 2, "initialLeverage": 100, "notionalCap": 600000, "notionalFloor": 50000,
         "maintMarginRatio": 0.005, "cum": 50.0},
        {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
         "maintMarginRatio": 0.004, "cum": 0.0}]}
    assert tiers_from_leverage_bracket(row) == (
        MarginTier(Decimal(0), Decimal("0.004"), Decimal("0.0")),
        MarginTier(Decimal(50000), Decimal("0.005"), Decimal("50.0")))
    assert BTC_TIERS[0].mmr == Decimal("0.004") and len(BTC_TIERS) > 5
