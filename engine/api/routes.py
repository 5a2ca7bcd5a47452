"""The API's handlers and their table (the table also writes the OpenAPI description).

Reads answer with the very JSON the CLI prints: ``/api/status`` is ``tapedesk status --json``
and ``/api/trades`` is ``tapedesk trades --json`` (the same functions, read from the journal
the desk commits to), so a script may switch between the two freely.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

JSON_ERROR = "application/json"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: str  # the ApiRoutes method's name
    summary: str
    response: str  # a component schema name in engine.api.openapi


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/status", "status",
          "Desk state from the journal: exactly `tapedesk status --json`.", "Status"),
    Route("GET", "/api/trades", "trades",
          "Closed trades, oldest first: exactly `tapedesk trades --json` (`?day=YYYY-MM-DD`).",
          "Trades"),
    Route("GET", "/api/trades/{id}", "trade",
          "One closed trade by its journal number (1 = the first), with its story when "
          "the desk can tell it.", "Trade"),
    Route("GET", "/api/metrics", "metrics",
          "Performance of this run (the headless summary's figures) as JSON.", "Metrics"),
    Route("GET", "/api/active-trade", "active_trade",
          "The open position(s): the active-trade pane as JSON.", "ActiveTrade"),
    Route("POST", "/api/emergency-stop", "emergency_stop",
          "What ctrl+x does: halt, cancel all, close all reduce-only, verify flat. Answers "
          "what the venue verified (200 flat, 503 not verified flat). `?wait=` seconds "
          "(default 20).", "HaltResult"),
    Route("GET", "/ws/live", "live",
          "Websocket of engine events as they are committed (explanation, fill, trade, "
          "state, snapshot every second).", "LiveMessage"),
    Route("GET", "/metrics", "prometheus",
          "Prometheus text format: equity, day P&L, positions, orders, feed age, order and "
          "weight rate, event-loop lag.", "PrometheusText"),
    Route("GET", "/api/openapi.json", "openapi", "This description (OpenAPI 3.1).", "OpenAPI"),
)


def error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


class ApiRoutes:
    """Handlers bound to one server (its engine, hub and lag monitor)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.engine = server.engine

    def table(self) -> list[web.RouteDef]:
        return [web.route(r.method, r.path, getattr(self, r.handler)) for r in ROUTES]

    def _journal_path(self) -> Path | None:
        journal = self.engine.journal
        return None if journal is None else Path(journal.path)

    async def status(self, request: web.Request) -> web.Response:
        from tapedesk.engine.desk_commands import read_status

        path = self._journal_path()
        if path is None:
            return error(503, "this desk keeps no journal")
        return web.json_response(await asyncio.to_thread(read_status, path.stem, path))

    async def trades(self, request: web.Request) -> web.Response:
        from tapedesk.engine.cli import UserError
        from tapedesk.engine.desk_commands import read_trades

        path = self._journal_path()
        if path is None:
            return error(503, "this desk keeps no journal")
        try:
            rows = await asyncio.to_thread(read_trades, path, request.query.get("day"))
        except UserError as exc:
            return error(400, f"day: {exc}")
        return web.json_response(rows)

    async def trade(self, request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        # isdigit() alone takes "²" (int() refuses it: a 500) and "١" (Arabic one)
        if not (raw.isascii() and raw.isdigit()) or int(raw) == 0:
            return error(400, f"trade id must be a positive whole number, got {raw[:40]!r}")
        trade_id = int(raw)
        if trade_id >= 2**63:  # beyond SQLite's integers: no such trade, not a bad request
            return error(404, f"no closed trade number {raw[:40]} in this desk's journal")
        journal = self.engine.journal
        if journal is None:
            return error(503, "this desk keeps no journal")
        from tapedesk.engine.trade_story import load_story

        story = await load_story(journal, trade_id)
        if story is None:
            return error(404, f"no closed trade number {trade_id} in this desk's journal")
        return web.json_response(story, dumps=_dumps)

    async def metrics(self, request: web.Request) -> web.Response:
        from tapedesk.engine.metrics import compute_metrics

        eng = self.engine
        m = compute_metrics(eng.trades, eng.equity_curve(), float(eng.initial_balance),
                            eng.bars_in_position, eng.bars_seen)
        return web.json_response(m.to_dict(), dumps=_dumps)

    async def active_trade(self, request: web.Request) -> web.Response:
        return web.json_response(active_trade(self.engine), dumps=_dumps)

    async def emergency_stop(self, request: web.Request) -> web.Response:
        from tapedesk.engine.control import HALT_WAIT_S, _number, halt_and_verify

        wait = _number(request.query.get("wait"), HALT_WAIT_S)
        # The control socket's halt (`tapedesk halt`): engine.emergency_stop, the procedure
        # ctrl+x runs, then the venue asked directly; one implementation of "verified".
        answer = await halt_and_verify(self.engine, wait)
        return web.json_response(answer, status=200 if answer.get("flat") else 503)

    async def live(self, request: web.Request) -> web.StreamResponse:
        return await self.server.hub.handle(request)

    async def prometheus(self, request: web.Request) -> web.Response:
        from tapedesk.engine.api.prometheus import CONTENT_TYPE, render

        return web.Response(body=render(self.engine, self.server).encode(),
                            headers={"Content-Type": CONTENT_TYPE})

    async def openapi(self, request: web.Request) -> web.Response:
        from tapedesk.engine.api.openapi import spec

        return web.json_response(spec())


def active_trade(engine: Any) -> dict[str, Any]:
    """What the active-trade pane shows, per open position (``flat`` when none)."""
    from tapedesk.engine.clock import iso

    snap = engine.snapshot()
    out = []
    for pos in snap.positions.values():
        last = snap.last_prices.get(pos.symbol)
        # the portfolio's own mark (one position per symbol in one-way mode)
        pnl = engine.portfolio.unrealized({pos.symbol: last}) if last else None
        out.append({
            "symbol": pos.symbol, "side": str(pos.side), "qty": str(pos.qty),
            "entry_price": str(pos.entry_price), "leverage": pos.leverage,
            "stop_loss": _str(pos.stop_loss), "take_profit": _str(pos.take_profit),
            "liquidation_price": _str(pos.liquidation_price or None),
            "last_price": last, "unrealized_pnl": _str(pnl),
            "unrealized_r": float(pnl / pos.risk_amount) if pnl is not None and pos.risk_amount
            else None,
            "risk_amount": str(pos.risk_amount), "strategy": pos.strategy,
            "opened_ts": pos.opened_ts, "opened": iso(pos.opened_ts),
            "in_trade_s": max(0, snap.now_ts - pos.opened_ts) / 1000,
            "unprotected": pos.symbol in snap.unprotected,
        })
    return {"flat": not out, "now": iso(snap.now_ts) if snap.now_ts else None,
            "positions": out}


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, default=str)
