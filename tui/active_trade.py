"""The active-trade pane: the open position with stop, target, liquidation and P&L in $ and R."""

from __future__ import annotations

from rich.text import Text
from tapedesk.engine.events import Side
from tapedesk.engine.positions import unrealized
from tapedesk.engine.snapshot import DeskSnapshot
from tapedesk.tui.format import duration, money, price, qty
from textual.widgets import Static


class ActiveTrade(Static):
    DEFAULT_CSS = """
    ActiveTrade { height: auto; min-height: 3; padding: 0 1; border: round $primary 50%; }
    """

    _last: Text | None = None

    def on_mount(self) -> None:
        self.border_title = "Active trade"

    def show(self, snap: DeskSnapshot | None) -> None:
        text = self.render_text(snap)
        if text != self._last:
            self._last = text
            self.update(text)

    def render_text(self, snap: DeskSnapshot | None) -> Text:
        t = Text()
        if snap is None or not snap.positions:
            t.append("flat", style="bold")
            t.append(" — no open position")
            return t
        vars_ = self.app.theme_variables
        up, down = vars_.get("pnl-up", "green"), vars_.get("pnl-down", "red")
        for i, pos in enumerate(snap.positions.values()):
            if i:
                t.append("\n")
            side_color = up if pos.side is Side.LONG else down
            t.append(f"{pos.side.value.upper()} ", style=f"bold {side_color}")
            t.append(f"{pos.symbol} {qty(pos.qty)} @ {price(pos.entry_price)}  {pos.leverage}x")
            if pos.strategy:
                t.append(f"  [{pos.strategy}]", style="dim")
            t.append(f"\nstop {price(pos.stop_loss)}  target {price(pos.take_profit)}")
            t.append(f"  liq {price(pos.liquidation_price)}\n")
            pnl = unrealized(pos, snap.last_prices.get(pos.symbol))
            t.append("uPnL ")
            if pnl is None:
                t.append("—")
            else:
                t.append(money(pnl, signed=True), style=f"bold {up if pnl >= 0 else down}")
                if pos.risk_amount:
                    t.append(f" ({float(pnl / pos.risk_amount):+.2f}R)")
            t.append(f"  last {price(snap.last_prices.get(pos.symbol))}")
            t.append(f"  in trade {duration(snap.now_ts - pos.opened_ts)}")
        return t
