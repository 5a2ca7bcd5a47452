"""Binance rounding: quantities DOWN to the step, prices to the tick (nearest, up or down)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tapedesk.engine.symbols import SymbolSpec, spec_for

BTC = spec_for("BTCUSDT")

# One entry of /fapi/v1/exchangeInfo "symbols", as Binance sends it (strings, trailing zeros).
BTC_INFO = {
    "symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
    "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
    "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000", "baseAsset": "BTC",
    "quoteAsset": "USDT", "marginAsset": "USDT", "pricePrecision": 2, "quantityPrecision": 3,
    "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
    "underlyingSubType": ["PoW"], "triggerProtect": "0.0500", "liquidationFee": "0.012500",
    "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
    "filters": [
        {"minPrice": "556.80", "maxPrice": "4529764", "filterType": "PRICE_FILTER",
         "tickSize": "0.10"},
        {"stepSize": "0.001", "filterType": "LOT_SIZE", "maxQty": "1000", "minQty": "0.001"},
        {"stepSize": "0.001", "filterType": "MARKET_LOT_SIZE", "maxQty": "120",
         "minQty": "0.001"},
        {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
        {"limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS"},
        {"notional": "100", "filterType": "MIN_NOTIONAL"},
        {"multiplierDown": "0.9500", "multiplierUp": "1.0500", "multiplierDecimal": "4",
         "filterType": "PERCENT_PRICE"},
    ],
    "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                   "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
    "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
}


@pytest.mark.parametrize(("qty", "want"), [
    ("0.0019", "0.001"), ("1.23456", "1.234"), ("0.001", "0.001"), ("0.0009", "0.000"),
    ("2", "2.000"), (0.3, "0.300")])
def test_quantity_is_rounded_down_to_the_lot_step(qty, want):
    got = BTC.round_qty(Decimal(qty) if isinstance(qty, str) else qty)
    assert got == Decimal(want) and str(got) == want


def test_quantity_on_a_whole_unit_step_has_no_decimals():
    assert str(spec_for("SOLUSDT").round_qty(Decimal("12.99"))) == "12"


def test_market_orders_use_the_market_lot_step_when_it_differs():
    spec = SymbolSpec("X", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal(5),
                      market_step_size=Decimal("0.01"))
    assert spec.round_qty(Decimal("1.239")) == Decimal("1.239")
    assert spec.round_qty(Decimal("1.239"), market=True) == Decimal("1.23")


@pytest.mark.parametrize(("px", "nearest", "down", "up"), [
    ("50000.05", "50000.1", "50000.0", "50000.1"),   # half a tick rounds half up
    ("50000.04", "50000.0", "50000.0", "50000.1"),
    ("50000.06", "50000.1", "50000.0", "50000.1"),
    ("50000.10", "50000.1", "50000.1", "50000.1"),   # on the tick: untouched in every mode
])
def test_price_is_rounded_to_the_tick_nearest_up_or_down(px, nearest, down, up):
    assert BTC.round_price(Decimal(px)) == Decimal(nearest)
    assert BTC.round_price(Decimal(px), "down") == Decimal(down)
    assert BTC.round_price(Decimal(px), "up") == Decimal(up)


def test_rounded_price_carries_the_tick_exponent():
    assert str(SymbolSpec.from_exchange_info(BTC_INFO).round_price(50000)) == "50000.0"
    assert str(spec_for("ETHUSDT").round_price(2345.678, "down")) == "2345.67"


def test_unknown_direction_is_an_error():
    with pytest.raises(KeyError):
        BTC.round_price(1, "sideways")


def test_from_exchange_info_reads_binance_filters_as_plain_decimals():
    spec = SymbolSpec.from_exchange_info(BTC_INFO)
    assert spec.symbol == "BTCUSDT"
    assert (str(spec.tick_size), str(spec.step_size), str(spec.min_qty)) == ("0.1", "0.001",
                                                                             "0.001")
    assert str(spec.min_notional) == "100"  # not 1E+2
    assert spec.max_qty == Decimal(1000) and str(spec.max_qty) == "1000"
    assert spec.market_step_size == Decimal("0.001") and spec.market_max_qty == Decimal(120)
    assert spec.round_price(Decimal("43210.37")) == Decimal("43210.4")
    assert spec.round_qty(Decimal("0.12345")) == Decimal("0.123")


def test_from_exchange_info_reads_a_whole_unit_step_and_four_decimal_tick():
    info = {"symbol": "SOLUSDT", "filters": [
        {"filterType": "PRICE_FILTER", "tickSize": "0.0100", "minPrice": "0.4200",
         "maxPrice": "6857"},
        {"filterType": "LOT_SIZE", "stepSize": "1", "minQty": "1", "maxQty": "1000000"},
        {"filterType": "MIN_NOTIONAL", "notional": "5"}]}
    spec = SymbolSpec.from_exchange_info(info)
    assert (spec.tick_size, spec.step_size, spec.min_notional) == (
        Decimal("0.01"), Decimal(1), Decimal(5))
    assert spec.market_step_size is None
    assert str(spec.round_qty(Decimal("7.9"))) == "7"


def test_check_order_names_the_filter_binance_would_reject_for():
    assert BTC.check_order(Decimal("0.001"), Decimal(100_000)) is None
    assert BTC.check_order(Decimal("0.000"), Decimal(50_000)) == (
        "quantity 0.000 is below the minimum 0.001")
    assert BTC.check_order(Decimal("0.001"), Decimal(99_999)) == (
        "notional 100.00 USDT is below the minimum 100")  # 99.999 shown rounded, still refused
    spec = SymbolSpec.from_exchange_info(BTC_INFO)
    assert spec.check_order(Decimal("1000.001"), Decimal(50_000)) == (
        "quantity 1000.001 is above the maximum 1000")


def test_unknown_symbol_gets_conservative_defaults():
    spec = spec_for("doge1000usdt")
    assert spec.symbol == "DOGE1000USDT"
    assert spec.step_size == Decimal("0.001") and spec.min_notional == Decimal(5)
