"""The OpenAPI 3.1 description served at ``/api/openapi.json``: paths from the route table
(``routes.ROUTES``, so a route cannot be served undescribed), schemas written here by hand.

Money is a decimal string ("10012.35"), as in the journal and ``--json``: never a float.
"""

from __future__ import annotations

from typing import Any

from tapedesk.engine.api.routes import ROUTES

_MONEY = {"type": "string", "description": "decimal number as text (USDT)",
          "examples": ["10012.35"]}
_MONEY_OR_NULL = {"type": ["string", "null"], "description": "decimal number as text"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_ANY_OBJECT = {"type": "object", "additionalProperties": True}

TRADE = {
    "type": "object",
    "required": ["symbol", "side", "qty", "entry_price", "exit_price", "pnl", "strategy"],
    "properties": {
        "symbol": {"type": "string"}, "side": {"type": "string", "enum": ["long", "short"]},
        "qty": _MONEY, "entry_time": {"type": "string"}, "exit_time": {"type": "string"},
        "entry_ts": {"type": "integer"}, "exit_ts": {"type": "integer"},
        "entry_price": _MONEY, "exit_price": _MONEY, "gross_pnl": _MONEY, "fees": _MONEY,
        "funding": _MONEY, "pnl": _MONEY, "r": _NUM_OR_NULL, "strategy": {"type": "string"},
        "reason": {"type": "string"},
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string"}}},
    "Status": {
        "type": "object",
        "description": "`tapedesk status --json`, read from the journal the desk commits to.",
        "required": ["mode", "running", "halted", "paused", "positions"],
        "properties": {
            "mode": {"type": "string"}, "running": {"type": "boolean"},
            "pid": {"type": ["integer", "null"]}, "halted": {"type": "boolean"},
            "paused": {"type": "boolean"}, "day": {"type": ["object", "null"]},
            "balance": _MONEY_OR_NULL, "position": {"type": ["object", "null"]},
            "positions": {"type": "array", "items": _ANY_OBJECT},
            "unprotected": {"type": "array", "items": {"type": "string"}},
            "strategies_enabled": {"type": "array", "items": {"type": "string"}},
            "strategies": {"type": "array", "items": _ANY_OBJECT},
            "last_event": {"type": ["string", "null"]},
        },
    },
    "Trades": {"type": "array", "items": TRADE,
               "description": "`tapedesk trades --json`: closed trades, oldest first."},
    "Trade": {**TRADE, "description": "One trade (with `id`); fields of its story (orders, "
              "fills, decisions, explanations) when the desk can tell it.",
              "properties": {**TRADE["properties"], "id": {"type": "integer"}}},
    "Metrics": {"type": "object", "description": "engine.metrics.Metrics.to_dict(): the "
                "headless summary's figures (see README, Metrics).", "additionalProperties": True,
                "properties": {"trades": {"type": "integer"}, "net_pnl": {"type": "number"},
                               "win_rate": _NUM_OR_NULL, "max_drawdown": {"type": "number"},
                               "sharpe": _NUM_OR_NULL}},
    "ActiveTrade": {
        "type": "object", "required": ["flat", "positions"],
        "properties": {
            "flat": {"type": "boolean"}, "now": {"type": ["string", "null"]},
            "positions": {"type": "array", "items": {"type": "object", "properties": {
                "symbol": {"type": "string"}, "side": {"type": "string"}, "qty": _MONEY,
                "entry_price": _MONEY, "leverage": {"type": "integer"},
                "stop_loss": _MONEY_OR_NULL, "take_profit": _MONEY_OR_NULL,
                "liquidation_price": _MONEY_OR_NULL, "last_price": _NUM_OR_NULL,
                "unrealized_pnl": _MONEY_OR_NULL, "unrealized_r": _NUM_OR_NULL,
                "risk_amount": _MONEY, "strategy": {"type": "string"},
                "opened_ts": {"type": "integer"}, "opened": {"type": "string"},
                "in_trade_s": {"type": "number"}, "unprotected": {"type": "boolean"}}}},
        },
    },
    "HaltResult": {
        "type": "object", "description": "`tapedesk halt`'s answer: what the venue verified.",
        "required": ["ok", "verified", "flat", "state"],
        "properties": {
            "ok": {"type": "boolean"}, "timed_out": {"type": "boolean"},
            "waited_s": {"type": "number"}, "verified": {"type": "boolean"},
            "flat": {"type": "boolean"}, "positions": {"type": "integer"},
            "orders": {"type": "integer"}, "error": {"type": "string"},
            "state": {"type": "string"},
        },
    },
    "LiveMessage": {
        "type": "object", "required": ["type", "data"],
        "description": "One websocket text message. A client more than 1000 messages behind "
                       "is disconnected (reconnect and read /api/status to catch up).",
        "properties": {
            "type": {"type": "string",
                     "enum": ["explanation", "fill", "trade", "state", "snapshot", "gap"]},
            "data": _ANY_OBJECT,
        },
    },
    "PrometheusText": {"type": "string"},
    "OpenAPI": _ANY_OBJECT,
}

_PARAMS = {
    "/api/trades": [{"name": "day", "in": "query", "required": False,
                     "description": "only trades closed on this UTC day",
                     "schema": {"type": "string", "examples": ["2026-11-27"]}}],
    "/api/trades/{id}": [{"name": "id", "in": "path", "required": True,
                          "schema": {"type": "integer", "minimum": 1}}],
    "/api/emergency-stop": [{"name": "wait", "in": "query", "required": False,
                             "description": "seconds to wait for verified flat (0-600)",
                             "schema": {"type": "number", "default": 20}}],
}


def _responses(route: Any) -> dict[str, Any]:
    media = "text/plain" if route.response == "PrometheusText" else "application/json"
    ok = {"description": route.summary,
          "content": {media: {"schema": {"$ref": f"#/components/schemas/{route.response}"}}}}
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    out: dict[str, Any] = {"401": {"description": "missing or wrong bearer token", **err}}
    if route.path == "/ws/live":
        out["101"] = {"description": "switching to the websocket; each message a LiveMessage"}
    else:
        out["200"] = ok
    if route.path in _PARAMS and route.path != "/api/emergency-stop":
        out["400"] = {"description": "a parameter that cannot be used", **err}
    if route.path == "/api/trades/{id}":
        out["404"] = {"description": "no such trade", **err}
    if route.path == "/api/emergency-stop":
        out["503"] = {"description": "not verified flat (the desk keeps retrying)",
                      "content": ok["content"]}
    return out


def spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for r in ROUTES:
        op = {"summary": r.summary, "operationId": r.handler, "responses": _responses(r)}
        if r.path in _PARAMS:
            op["parameters"] = _PARAMS[r.path]
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tapedesk local API", "version": "1",
                 "description": "Beside a running desk, on 127.0.0.1 unless configured "
                                "otherwise. Every request needs `Authorization: Bearer "
                                "<token>` (`tapedesk api token`)."},
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }
