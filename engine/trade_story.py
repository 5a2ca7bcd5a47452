"""A closed trade's whole story, read from the journal: the one implementation behind the
desk's trade screen, ``tapedesk trades --id N`` (text and ``--json``) and the HTTP API.

Since journal schema v3 every decision, order, fill and explanation row carries the
``position_id`` of the position it belongs to (the client id of the order whose fill opened
it), so a story is read by id, never guessed. A trade journaled before v3 has no such link:
its story holds the trade row, the fills found by symbol inside its open interval (one-way
mode: one position per symbol at a time), and says plainly what cannot be tied to it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from tapedesk.engine import explanations as say
from tapedesk.engine.clock import iso
from tapedesk.engine.journal import POSITION_LINKS_VERSION, row_to_trade, trade_columns

_PROTECTIVE = ("stop", "take_profit")
_NO_LINKS = (
    "this trade was journaled before trades were linked to their records (journal schema "
    f"v{POSITION_LINKS_VERSION}): its signal, risk decision, orders (stop/target moves) and "
    "log lines cannot be tied to it"
)


async def load_story(journal: Any, trade_id: int) -> dict[str, Any] | None:
    """The story of trade ``trade_id`` as plain JSON types (prices and money as strings),
    or None when the journal has no such trade. ``journal``: anything with
    ``async fetchall(sql, params)`` (the desk's ``Journal``, or ``ReadOnlyJournal``)."""
    lock = getattr(journal, "lock", None)
    if isinstance(lock, asyncio.Lock):  # a running desk: never read half a commit
        async with lock:
            return await _load(journal, trade_id)
    return await _load(journal, trade_id)


async def _load(journal: Any, trade_id: int) -> dict[str, Any] | None:
    version = (await journal.fetchall("PRAGMA user_version"))[0][0]
    rows = await journal.fetchall(
        f"SELECT {trade_columns(version)} FROM trades WHERE id = ?", (trade_id,))
    if not rows:
        return None
    t = row_to_trade(rows[0])
    r = t.r_multiple
    story: dict[str, Any] = {
        "id": t.id,
        "position_id": t.position_id,
        "symbol": t.symbol,
        "side": str(t.side),
        "qty": str(t.qty),
        "strategy": t.strategy,
        "entry": {"ts": t.entry_ts, "time": iso(t.entry_ts), "price": str(t.entry_price)},
        "exit": {"ts": t.exit_ts, "time": iso(t.exit_ts), "price": str(t.exit_price),
                 "reason": t.reason, "signal": None},
        "pnl": {"gross": str(t.gross_pnl), "fees": str(t.fees), "funding": str(t.funding),
                "net": str(t.pnl), "risk_amount": str(t.risk_amount),
                "r": None if r is None else round(r, 4)},
        "signal": None,
        "decision": None,
        "fills": [],
        "orders": [],
        "protection": [],
        "log": [],
        "linked": bool(t.position_id),
        "missing": [],
    }
    if t.position_id:
        await _linked(journal, story, t.position_id)
    else:
        story["fills"] = await _fills(
            journal, "symbol = ? AND ts >= ? AND ts <= ?", (t.symbol, t.entry_ts, t.exit_ts))
        for f in story["fills"]:
            f["matched_by"] = "symbol and time"
        story["missing"].append(_NO_LINKS)
        if story["fills"]:
            story["missing"].append("fills are matched by symbol and time, not by id")
    if not story["fills"]:
        story["missing"].append("no fills found in the journal for this trade")
    return story


async def _linked(journal: Any, story: dict[str, Any], pid: str) -> None:
    rows = await journal.fetchall(
        "SELECT ts, strategy, side, kind, accepted, rule, text, numbers FROM decisions "
        "WHERE position_id = ? ORDER BY id", (pid,))
    for ts, strategy, side, kind, accepted, rule, text, numbers in rows:
        n = json.loads(numbers or "{}")
        signal = {
            "ts": ts, "time": iso(ts), "strategy": strategy, "side": side, "kind": kind,
            "entry": n.pop("entry", None), "stop_loss": n.pop("stop_loss", None),
            "take_profit": n.pop("take_profit", None), "confidence": n.pop("confidence", None),
            "reasons": n.pop("reasons", []),
        }
        if kind == "exit":
            story["exit"]["signal"] = signal
            continue
        story["signal"] = signal
        story["decision"] = {
            "accepted": bool(accepted), "rule": rule, "text": text,
            "qty": n.pop("qty", None), "leverage": n.pop("leverage", None),
            "passed": n.pop("passed", []), "numbers": n,
        }
    if story["signal"] is None:
        story["missing"].append("no signal or risk decision is journaled for this position "
                                "(adopted from the exchange, or opened before a restart "
                                "that lost it)")
    story["fills"] = await _fills(journal, "position_id = ?", (pid,))
    rows = await journal.fetchall(
        "SELECT ts, client_id, role, type, side, qty, price, stop_price, status, reason, "
        "updated_ts FROM orders WHERE position_id = ? ORDER BY ts, rowid", (pid,))
    for ts, cid, role, typ, side, qty, px, stop, status, reason, upd in rows:
        order = {"ts": ts, "time": iso(ts), "client_id": cid, "role": role, "type": typ,
                 "side": side, "qty": qty, "price": px, "trigger": stop, "status": status,
                 "reason": reason, "updated_ts": upd, "updated_time": iso(upd)}
        story["orders"].append(order)
        if role in _PROTECTIVE:
            story["protection"].append(order)
    rows = await journal.fetchall(
        "SELECT ts, kind, text, rule FROM explanations WHERE position_id = ? ORDER BY id", (pid,))
    story["log"] = [{"ts": ts, "time": iso(ts), "kind": kind, "text": text, "rule": rule}
                    for ts, kind, text, rule in rows]


async def _fills(journal: Any, where: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    rows = await journal.fetchall(
        "SELECT ts, role, side, qty, price, fee, liquidity, client_id, trade_id FROM fills "
        f"WHERE {where} ORDER BY ts, id", params)
    return [{"ts": ts, "time": iso(ts), "role": role, "side": side, "qty": qty, "price": px,
             "fee": fee, "liquidity": liq, "client_id": cid, "exchange_trade_id": tid}
            for ts, role, side, qty, px, fee, liq, cid, tid in rows]


# -- reading from another process (the CLI) ----------------------------------------------


class ReadOnlyJournal:
    """``journal.open_readonly`` behind the async ``fetchall`` that ``load_story`` reads."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, params).fetchall())


def read_story(path: Path, trade_id: int) -> dict[str, Any] | None:
    from tapedesk.engine.journal import open_readonly

    conn = open_readonly(path)
    try:
        return asyncio.run(load_story(ReadOnlyJournal(conn), trade_id))
    finally:
        conn.close()


# -- the text a trader reads -------------------------------------------------------------


def _px(v: Any) -> str:
    return "—" if v in (None, "", 0, 0.0) else say.price(Decimal(str(v)))


def _money(v: Any) -> str:
    return say.money(Decimal(str(v)))


def story_text(s: dict[str, Any]) -> str:
    """The story as plain lines (no markup): the CLI prints it, the desk's screen shows it."""
    pnl, entry, exit_ = s["pnl"], s["entry"], s["exit"]
    r = f", {pnl['r']:+.2f} R of {_money(pnl['risk_amount'])} at risk" if pnl["r"] is not None \
        else ", R n/a (no risk amount)"
    out = [
        f"Trade #{s['id']}  {s['side'].upper()} {s['qty']} {s['symbol']}  ({s['strategy'] or '?'})",
        f"Opened {entry['time']} UTC @ {_px(entry['price'])}",
        f"Closed {exit_['time']} UTC @ {_px(exit_['price'])}  exit: {exit_['reason']}",
        f"P&L    net {say.signed_money(Decimal(pnl['net']))}{r}",
        f"       gross {say.signed_money(Decimal(pnl['gross']))}, fees {_money(pnl['fees'])}, "
        f"funding {say.signed_money(Decimal(pnl['funding']))}",
    ]
    sig, dec = s["signal"], s["decision"]
    if sig is not None:
        target = f", target {_px(sig['take_profit'])}" if sig["take_profit"] else ", no target"
        conf = f", confidence {sig['confidence']:.2f}" if sig["confidence"] is not None else ""
        out += ["", f"SIGNAL  {sig['time']}  {sig['strategy']} {sig['side']} @ ~"
                f"{_px(sig['entry'])}, stop {_px(sig['stop_loss'])}{target}{conf}"]
        out += [f"  why: {reason}" for reason in sig["reasons"]] or ["  why: (no reasons given)"]
    if dec is not None:
        lev = f", {dec['leverage']}x isolated" if dec["leverage"] else ""
        rule = f" ({dec['rule']})" if dec["rule"] not in ("", "accepted") else ""
        out += ["", f"RISK    {'accepted' if dec['accepted'] else 'refused'}{rule}: "
                f"qty {dec['qty']}{lev}"]
        out += [f"  {line}" for line in _numbers(dec["numbers"])]
        if dec["passed"]:
            out.append(f"  rules passed: {', '.join(dec['passed'])}")
    if s["fills"]:
        out += ["", "FILLS"]
        for f in s["fills"]:
            out.append(f"  {f['time']}  {f['role']:<11} {f['side']:<4} {f['qty']} @ "
                       f"{_px(f['price'])}  fee {_money(f['fee'])} ({f['liquidity']})")
    if s["protection"]:
        out += ["", "STOP / TARGET"]
        for o in s["protection"]:
            what = "stop" if o["role"] == "stop" else "target"
            why = f": {o['reason']}" if o["reason"] else ""
            out.append(f"  {o['time']}  {what:<6} {_px(o['trigger'])} for {o['qty']}  "
                       f"{o['status']}{why}")
    out += ["", f"EXIT    {exit_['time']}  {exit_['reason']} @ {_px(exit_['price'])}"]
    if exit_["signal"] is not None:
        out += [f"  why: {reason}" for reason in exit_["signal"]["reasons"]]
    if s["log"]:
        out += ["", "LOG"]
        out += [f"  {e['time'][11:]} {e['kind'].upper():7} {e['text']}" for e in s["log"]]
    if s["missing"]:
        out += ["", "MISSING"]
        out += [f"  {m}" for m in s["missing"]]
    return "\n".join(out)


def _numbers(n: dict[str, Any]) -> list[str]:
    """The risk numbers a trader checks first, in words; the rest as name = value."""
    lines = []
    if "risk_amount" in n:
        lines.append(f"risk {_money(n['risk_amount'])} incl. fees and slippage "
                     f"{_money(n.get('risk_costs', 0))}; notional {_money(n.get('notional', 0))}")
    if "stop_pct" in n:
        lines.append(f"stop distance {float(n['stop_pct']):.2f} %")
    skip = {"risk_amount", "risk_costs", "notional", "stop_pct"}
    rest = [f"{k} = {v}" for k, v in n.items() if k not in skip]
    if rest:
        lines.append("rule numbers: " + ", ".join(rest))
    return lines
