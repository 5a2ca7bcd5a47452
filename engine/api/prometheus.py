"""``/metrics``: the desk's vital signs in Prometheus's text format (version 0.0.4).

Written by hand (a dozen gauges do not justify a runtime dependency); the tests parse it with
prometheus_client's own parser. Values come from one ``DeskSnapshot`` so they agree with the
desk's header; money is in USDT as floats (monitoring, not accounting).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from tapedesk.engine.snapshot import DeskState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: Any) -> str:
    if value is None:
        return "NaN"
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return repr(number) if not number.is_integer() else str(int(number))


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_text: str,
               samples: Iterable[tuple[dict[str, str], Any]]) -> None:
        if kind == "counter":  # text format 0.0.4: the family is named with its _total
            name += "_total"
        self.lines.append(f"# HELP tapedesk_{name} {help_text}")
        self.lines.append(f"# TYPE tapedesk_{name} {kind}")
        for labels, value in samples:
            tags = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            where = f"{{{tags}}}" if tags else ""
            self.lines.append(f"tapedesk_{name}{where} {_number(value)}")

    def gauge(self, name: str, help_text: str, value: Any) -> None:
        self.metric(name, "gauge", help_text, [({}, value)])


def render(engine: Any, server: Any) -> str:
    """The exposition text; ``server`` gives the API's own figures (clients, loop lag)."""
    snap = engine.snapshot()
    day = snap.day
    out = _Text()
    labels = {"mode": snap.mode, "stake": snap.stake, "venue": snap.venue}
    out.metric("desk_info", "gauge", "The desk: mode, money at stake, venue.", [(labels, 1)])
    out.metric("desk_state", "gauge", "1 for the desk's current state.",
               [({"state": str(s)}, int(snap.state is s)) for s in DeskState])
    out.gauge("equity_usdt", "Wallet balance plus unrealised P&L.", snap.equity)
    out.gauge("balance_usdt", "Wallet balance.", snap.balance)
    out.gauge("unrealized_pnl_usdt", "Unrealised P&L of open positions at the last price.",
              snap.unrealized_pnl)
    out.gauge("day_pnl_usdt", "Today's P&L: realised (net of fees and funding) plus open.",
              day.realized_pnl + snap.unrealized_pnl)
    out.gauge("day_realized_pnl_usdt", "Today's realised P&L, net of fees and funding.",
              day.realized_pnl)
    out.gauge("day_fees_usdt", "Fees paid today.", day.fees)
    out.gauge("day_trades", "Trades opened today.", day.trades)
    out.gauge("day_losses", "Losing trades today.", day.losses)
    out.gauge("day_trades_left", "Trades still allowed today.", day.trades_left)
    out.gauge("day_locked", "1 when today's risk caps locked the desk.", int(day.locked))
    out.gauge("positions", "Open positions.", len(snap.positions))
    out.metric("position_qty", "gauge", "Open quantity per symbol, signed (short < 0).",
               [({"symbol": p.symbol}, p.qty * p.side.sign) for p in snap.positions.values()])
    out.gauge("unprotected_positions", "Positions with no stop accepted on the exchange.",
              len(snap.unprotected))
    out.gauge("open_orders", "Orders the desk has working on the venue.",
              len(getattr(engine.orders, "open", ())))
    out.gauge("feed_age_seconds", "Age of the newest market data (NaN before any).",
              None if snap.data_age_ms is None else snap.data_age_ms / 1000)
    out.gauge("feed_up", "1 while market data flows (live or replay).",
              int(str(snap.feed_status) in ("live", "replay")))
    out.gauge("journal_ok", "0 while the journal cannot be written.", int(not snap.journal_error))
    out.metric("bars", "counter", "Bars the engine processed this run.", [({}, engine.bars_seen)])
    limits = getattr(getattr(engine.venue, "gate", None), "limits", None)
    if limits is not None:  # a Binance venue: what Binance says the desk has used
        out.gauge("api_weight_used", "Request weight used in the current minute (Binance).",
                  limits.weight_used)
        out.gauge("api_weight_limit", "Request weight allowed per minute (Binance).",
                  limits.weight_limit)
        out.gauge("orders_10s", "Orders placed in the current 10 s window (Binance).",
                  limits.orders_10s)
        out.gauge("orders_1m", "Orders placed in the current minute (Binance).",
                  limits.orders_1m)
        out.gauge("orders_1m_limit", "Orders allowed per minute (Binance).",
                  limits.orders_1m_limit)
    out.gauge("event_loop_lag_seconds", "How late the desk's event loop woke up, last look.",
              server.lag.last)
    out.gauge("event_loop_lag_max_seconds", "Largest event-loop lag in the last minute.",
              server.lag.worst())
    out.gauge("ws_clients", "Websocket clients connected to /ws/live.", len(server.hub.clients))
    out.metric("ws_dropped_clients", "counter", "Websocket clients dropped for reading too "
               "slowly.", [({}, server.hub.dropped_clients)])
    return "\n".join(out.lines) + "\n"
