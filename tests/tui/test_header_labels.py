"""The header says what money is at stake and, separately, where the data comes from."""

from __future__ import annotations

import dataclasses

import pytest
from tapedesk.engine.snapshot import money_at_stake
from tapedesk.tui.app import make_app

from tests.tui.fake_engine import FakeEngine
from tests.tui.helpers import ready


@pytest.mark.parametrize(
    ("mode", "environment", "source", "stake", "where"),
    [
        ("demo", "", "replay", "PAPER", "replay (offline demo)"),
        ("paper", "", "replay", "PAPER", "replay"),
        ("paper", "production", "live feed", "PAPER", "live feed"),
        ("paper", "testnet", "live feed", "PAPER", "live feed (testnet)"),
        ("live", "production", "live feed", "LIVE", "live feed"),
        ("live", "testnet", "live feed", "TESTNET", "live feed (testnet)"),
        ("live", "demo-trading", "live feed", "DEMO-TRADING", "live feed (demo-trading)"),
        ("live", "custom", "live feed", "LIVE", "live feed (custom)"),
    ],
)
async def test_header_names_money_at_stake_and_data_source(mode, environment, source, stake,
                                                           where):
    app = make_app(FakeEngine())
    async with app.run_test(size=(160, 30)) as pilot:
        await ready(pilot)
        snap = dataclasses.replace(app.engine.snapshot(), mode=mode, environment=environment,
                                   source=source)
        first = app.header.render_text(snap, notice=None, halting=False,
                                       log_filter="all").plain.splitlines()[0]
        assert first.startswith(f" {stake}  {where} │ BTCUSDT")
        assert "DEMO " not in first  # never "DEMO" alone: the offline demo is a replay


def test_only_a_live_desk_puts_money_at_stake():
    assert {money_at_stake(m, "production") for m in ("paper", "demo", "backtest")} == {"PAPER"}
    assert money_at_stake("live", "demo-trading") == "DEMO-TRADING"
