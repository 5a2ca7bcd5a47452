"""Pane behaviour that does not need a running engine: trimming, ordering, filtering."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.events import Explanation, ExplanationKind, RoundTrip, Side
from tapedesk.tui.explain_log import ExplainLog
from tapedesk.tui.format import duration, money
from tapedesk.tui.trade_history import TradeHistory
from textual.app import App, ComposeResult


def _trip(i: int) -> RoundTrip:
    return RoundTrip(symbol="BTCUSDT", side=Side.LONG if i % 2 else Side.SHORT,
                     qty=Decimal("0.01"), entry_price=Decimal("56000"),
                     exit_price=Decimal("56010"), entry_ts=i * 1000, exit_ts=i * 1000 + 500,
                     gross_pnl=Decimal("0.1"), fees=Decimal("0.05"), funding=Decimal(0),
                     pnl=Decimal(i - 5), strategy="s", reason=f"tp{i}")


class Host(App):
    def compose(self) -> ComposeResult:
        yield TradeHistory(max_rows=5)
        yield ExplainLog(max_lines=10, history=20)


async def test_trade_history_is_newest_first_and_capped():
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(TradeHistory)
        table.add_trips([_trip(i) for i in range(3)])
        table.add_trips([_trip(i) for i in range(3, 9)])
        await pilot.pause()
        assert table.row_count == 5
        reasons = [table.get_row_at(r)[-1] for r in range(table.row_count)]
        assert reasons == ["tp8", "tp7", "tp6", "tp5", "tp4"]


async def test_explanation_log_is_bounded_and_filters_from_its_history():
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        log = app.query_one(ExplainLog)
        kinds = [ExplanationKind.TAKEN, ExplanationKind.REFUSED, ExplanationKind.ERROR]
        log.add([Explanation(i, kinds[i % 3], f"line {i}") for i in range(60)])
        await pilot.pause()
        assert len(log.lines) <= 10 and len(log.history) == 20
        log.set_filter("errors")
        await pilot.pause()
        assert all("ERROR" in line.text for line in log.lines)
        log.add([Explanation(99, ExplanationKind.REFUSED, "not shown")])
        await pilot.pause()
        assert not any("not shown" in line.text for line in log.lines)


def test_money_and_duration_read_like_a_trader_writes_them():
    assert money(Decimal("-3.5"), signed=True) == "-$3.50"
    assert money(Decimal("1234.5"), signed=True) == "+$1,234.50"
    assert duration(3_725_000) == "1h02m" and duration(-5) == "0s"
