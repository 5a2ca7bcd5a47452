"""The always-in EMA cross (``reverse=true``, ``stop_pct=0``) on bars small enough to do by hand.

fast=2 (alpha 2/3), slow=3 (alpha 1/2), both seeded with the first close; no signal while
``seen <= slow`` (bars 0-2). Closes 100, 100, 100, 102, 98, 101, 103:

  bar 3  c=102  fast 101.3333  slow 101.0   fast > slow: cross up   → long 1 @ 102
  bar 4  c=98   fast  99.1111  slow  99.5   cross down → close 102→98, short 1 @ 98
  bar 5  c=101  fast 100.3704  slow 100.25  cross up   → close 98→101, long 1 @ 101
  bar 6  c=103  fast 102.1235  slow 101.625 no cross; end of data closes 101→103

Fees 4 bps of each fill's notional (every fill a taker):
  T1 long  gross -4, fees (102 + 98)  × 0.0004 = 0.0800 → -4.0800
  T2 short gross -3, fees (98 + 101)  × 0.0004 = 0.0796 → -3.0796
  T3 long  gross +2, fees (101 + 103) × 0.0004 = 0.0816 → +1.9184
  net -5.2412, fees 0.2412, 6 fills.
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from tapedesk.engine.backtest import run_backtest
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.events import Side
from tapedesk.engine.strategy import StrategyError, create

from tests.engine.conftest import bar

CLOSES = [100.0, 100.0, 100.0, 102.0, 98.0, 101.0, 103.0]
RESEARCH = dict(
    fill_at="close", fee_bps=4.0, slippage_bps=0.0, funding_bps=0.0,
    fixed_qty=Decimal(1), no_risk=True, initial_balance=Decimal(10**9),
)


def _bars() -> list:
    return [bar(i, c, c, c, c) for i, c in enumerate(CLOSES)]


def _expect(trades: list) -> None:
    got = [(str(t.side), t.entry_price, t.exit_price, t.gross_pnl, t.fees, t.pnl) for t in trades]
    d = Decimal
    assert got == [
        ("long", d("102"), d("98"), d("-4"), d("0.08"), d("-4.08")),
        ("short", d("98"), d("101"), d("-3"), d("0.0796"), d("-3.0796")),
        ("long", d("101"), d("103"), d("2"), d("0.0816"), d("1.9184")),
    ]


def test_reverse_is_always_in_with_hand_computed_fills_fees_and_pnl() -> None:
    strat = create("ema_cross", fast=2, slow=3, reverse=True, stop_pct=0)
    result = run_backtest(_bars(), [strat], DeskConfig(), **RESEARCH)
    _expect(result.trades)
    # Each reversal exits and re-enters on the same bar, at the same price.
    assert [t.exit_ts for t in result.trades[:2]] == [t.entry_ts for t in result.trades[1:]]
    assert result.trades[0].reason.startswith("reversed: EMA2")
    assert result.trades[2].reason == "end of data"
    m = result.metrics
    assert m.net_pnl == pytest.approx(-5.2412, abs=1e-9)
    assert m.fees == pytest.approx(0.2412, abs=1e-9)
    assert m.funding == 0
    assert result.fills == m.fills == 6  # counted by the venue: exit and entry at each reversal


def test_default_is_todays_exit_only_with_stop_and_target() -> None:
    strat = create("ema_cross", fast=2, slow=3, stop_pct=0)
    result = run_backtest(_bars(), [strat], DeskConfig(), **RESEARCH)
    # Opposite cross exits only; the next cross (up, bar 5) enters again.
    assert [(str(t.side), t.entry_price, t.exit_price) for t in result.trades] == [
        ("long", Decimal("102"), Decimal("98")),
        ("long", Decimal("101"), Decimal("103")),
    ]
    sig = create("ema_cross", fast=2, slow=3)._entry(_bars()[3], Side.LONG, [])
    assert sig.stop_loss == pytest.approx(102 * (1 - 0.0025))
    assert sig.take_profit == pytest.approx(102 * (1 + 0.005))


def test_stopless_entry_is_refused_and_counted_when_risk_rules_apply() -> None:
    strat = create("ema_cross", fast=2, slow=3, reverse=True, stop_pct=0)
    opts = {**RESEARCH, "no_risk": False}
    result = run_backtest(_bars(), [strat], DeskConfig(), **opts)
    assert result.trades == []
    assert "REFUSED ENTRIES: 3 (stop_and_target_side 3)" in result.labels


def test_negative_stop_is_a_parameter_error() -> None:
    with pytest.raises(StrategyError, match="stop_pct must be >= 0"):
        create("ema_cross", stop_pct=-1)


def _cli(tmp_path: Path, balance: str, *extra: str) -> subprocess.CompletedProcess[str]:
    data = tmp_path / "TESTUSDT_1m.csv"
    rows = ["timestamp,open,high,low,close,volume"]
    for i, c in enumerate(CLOSES):
        rows.append(f"2024-01-01 00:{i:02d}:00,{c},{c},{c},{c},1")
    data.write_text("\n".join(rows) + "\n")
    return subprocess.run(
        ["tapedesk", "backtest", "--data", str(data), "--symbol", "TESTUSDT",
         "--strategy", "ema_cross", "--param", "fast=2", "--param", "slow=3",
         "--param", "reverse=true", "--param", "stop_pct=0", "--fill-at", "close",
         "--fixed-qty", "1", "--fee-bps", "4", "--slippage-bps", "0", "--funding-bps", "0",
         "--no-risk", "--initial-balance", balance, *extra],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_cli_says_how_many_fixed_qty_entries_margin_refused(tmp_path: Path) -> None:
    # qty 1 at ~100 needs 100 / 5x = 20 of margin; a balance of 10 carries none of them.
    out = _cli(tmp_path, "10", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "REFUSED ENTRIES: 3 (margin_available 3; margin: a larger --initial-balance" in (
        out.stdout
    )
    assert "Traceback" not in out.stderr


def test_cli_always_in_run_prints_the_hand_computed_result(tmp_path: Path) -> None:
    out = _cli(tmp_path, "1e9", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    d = Decimal
    got = [(t["side"], d(t["entry_price"]), d(t["exit_price"]), d(t["fees"]), d(t["pnl"]))
           for t in doc["trades"]]
    assert got == [
        ("long", d("102"), d("98"), d("0.08"), d("-4.08")),
        ("short", d("98"), d("101"), d("0.0796"), d("-3.0796")),
        ("long", d("101"), d("103"), d("0.0816"), d("1.9184")),
    ]
    assert doc["metrics"]["net_pnl"] == pytest.approx(-5.2412, abs=1e-9)
    assert doc["metrics"]["fees"] == pytest.approx(0.2412, abs=1e-9)
    assert doc["fills"] == 6
    assert any(lb.startswith("NO RISK RULES") for lb in doc["labels"])
    assert "funding: mark-price data only (assumed rate off)" in doc["labels"]
    assert any("slippage 0 bps" in lb for lb in doc["labels"])


def test_reverse_with_next_open_fills_enters_after_the_close_has_filled() -> None:
    # Flat bars: each open is its close. Bar 3's cross up fills at bar 4's open (98); bar 4's
    # cross down sends the close, which fills at bar 5's open (101); bar 5 crosses up again,
    # so the pending short is dropped and the long fills at bar 6's open (103), closed at the
    # end of data at 103. No entry is ever sent while the close is still working.
    strat = create("ema_cross", fast=2, slow=3, reverse=True, stop_pct=0)
    opts = {**RESEARCH, "fill_at": "next-open"}
    result = run_backtest(_bars(), [strat], DeskConfig(), **opts)
    assert [(str(t.side), t.entry_price, t.exit_price, t.reason.split(":")[0])
            for t in result.trades] == [
        ("long", Decimal("98"), Decimal("101"), "reversed"),
        ("long", Decimal("103"), Decimal("103"), "end of data"),
    ]
    assert not any(lb.startswith("REFUSED") for lb in result.labels)


def test_a_reverse_never_closes_another_strategys_position() -> None:
    """The exit half of REVERSE is vetted like any exit: b cannot close a's long (and so
    b's short entry is not sent either: never two positions on a symbol)."""
    from tapedesk.engine.events import Signal, SignalKind
    from tapedesk.engine.strategy import Strategy

    class Scripted(Strategy):
        def __init__(self, name: str, at: int, side: Side, kind: SignalKind) -> None:
            super().__init__()
            self.name, self.at, self.side, self.kind = name, at, side, kind  # type: ignore[misc]
            self.seen = 0

        def on_bar(self, b):
            self.seen += 1
            if self.seen == self.at:
                return Signal(self.name, b.symbol, self.side, b.ts, b.close, kind=self.kind)
            return None

    a = Scripted("a", 2, Side.LONG, SignalKind.ENTRY)
    b = Scripted("b", 4, Side.SHORT, SignalKind.REVERSE)
    result = run_backtest(_bars(), [a, b], DeskConfig(), **RESEARCH)
    assert [(t.strategy, str(t.side), t.reason) for t in result.trades] == [
        ("a", "long", "end of data")]
    assert any(e.rule == "exit_not_its_position" and e.strategy == "b"
               for e in result.explanations)
    assert result.fills == 2
