"""The trader's actions on one open position: close it now, move its stop to break-even.

One implementation for the desk's keys (``x``, ``b``), the command palette, the control
socket and the CLI (``tapedesk close`` / ``tapedesk stop-to-breakeven``). Both go through the
order owner (``Orders.close`` / ``Orders.move_stop``) and the risk rules (``rule_stop_move``);
neither halts or pauses the desk. Each outcome, done or refused, is explained in the log with
its numbers and journaled with the next commit.

Decisions (docs/desk.md, "Acting on one position"):

- *Several positions*: the keys act on the position the active-trade pane lists first (the
  dialog names it); the palette has one entry per open position; the CLI takes the symbol.
- *Halted or paused*: closing is always allowed (it only reduces risk), and so is moving a
  stop toward profit; only while the emergency stop itself is closing everything is nothing
  sent (it already closes the position: a second close would race it).
- *A close racing a stop fill*: the close is a reduce-only market order, so on the exchange
  it can never open a new position; while one close is working no second one is sent; a
  close the exchange refuses because the stop already flattened the position (-2022) is not
  re-sent, because the order owner re-sends only while its book still holds the position.
- *After a manual close*: the strategy that held the trade may not re-enter the same symbol
  in the same direction for ``REENTRY_PAUSE_MS`` (engine time) — a level-triggered strategy
  (``mean_reversion``) would otherwise buy back on the next bar the very setup the trader just
  left. The refusal is a journaled risk decision (rule ``after_manual_close``). Held in memory:
  a restart forgets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tapedesk.engine.events import ExplanationKind, OrderRole, Position, RoundTrip, Side, Signal
from tapedesk.engine.positions import unrealized
from tapedesk.engine.risk import rule_stop_move
from tapedesk.engine.symbols import SymbolSpec

#: How long the strategy that held a manually closed trade may not re-enter it the same way.
REENTRY_PAUSE_MS = 15 * 60_000
MANUAL = "manual"  # the exit reason in the journal and the trade history


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What one action did: ``done`` False means nothing was sent, and ``text`` says why."""

    done: bool
    text: str
    stop: Decimal | None = None  # the stop price sent, for a stop move

    def to_json(self) -> dict[str, Any]:
        return {"done": self.done, "text": self.text}


def break_even_stop(pos: Position, exit_fee: Decimal, spec: SymbolSpec) -> Decimal:
    """The stop at which a stop-out nets zero for the whole trade: what the entry fees (and
    funding, and any part already closed) cost, plus the taker fee the stop-market exit
    will pay on its own notional. Rounded to the tick away from entry (up for a long, down
    for a short), so a stop-out covers the fees rather than falling a fraction short.

    Long: ``S·q·(1 − f) = E·q + owed``; short: ``S·q·(1 + f) = E·q − owed``, where ``owed``
    = fees paid − funding received − profit already realised. Slippage is not included: a
    stop-market order fills at the market once triggered (docs/live.md).
    """
    s = pos.side.sign
    owed = pos.fees - pos.funding - pos.realized_gross
    raw = (pos.entry_price * pos.qty + s * owed) / (pos.qty * (1 - s * exit_fee))
    return spec.round_price(raw, "up" if pos.side is Side.LONG else "down")


def _px(value: Decimal) -> str:
    """An averaged entry price without 28 decimals of division (``60007.1``)."""
    return f"{value.quantize(Decimal('1e-8')).normalize():f}"


def _symbol(symbol: str) -> str:
    return str(symbol or "").strip().upper()


def _last(engine: Any, symbol: str) -> Decimal | None:
    last = getattr(engine.venue, "last_price", {}).get(symbol)
    return Decimal(str(last)) if last else None


def _closing(engine: Any, symbol: str) -> str:
    """The client id of a close already working on ``symbol``, or ""."""
    return engine.orders.closing(symbol)


async def _refuse(engine: Any, what: str, symbol: str, why: str, rule: str) -> ActionResult:
    text = f"{what} {symbol} refused: {why}. Nothing sent."
    engine.explain(ExplanationKind.REFUSED, text, symbol=symbol, rule=rule)
    await engine.commit()
    return ActionResult(False, text)


def _common_refusal(engine: Any, symbol: str) -> str:
    if not symbol.isalnum():
        return f"{symbol!r} is not a symbol"
    if engine.book.get(symbol) is None:
        return f"no open position on {symbol}"
    if engine.orders.halting:
        return "the emergency stop is closing every position already"
    return ""


async def close_position(engine: Any, symbol: str) -> ActionResult:
    """Close ``symbol``'s position reduce-only at market; the trade ends as "manual"."""
    sym = _symbol(symbol)
    why = _common_refusal(engine, sym) or (
        f"a close is already working ({_closing(engine, sym)})" if _closing(engine, sym) else "")
    if why:
        return await _refuse(engine, "Manual close of", sym or "(no symbol)", why, "manual_close")
    pos: Position = engine.book.get(sym)
    side, qty = pos.side, pos.qty  # the fill may change ``pos`` before this returns
    orders = engine.orders
    plan = orders.plans.get(sym)
    entry = orders.open.get(plan.entry_id) if plan is not None and plan.entry_id else None
    last = _last(engine, sym)
    upnl = unrealized(pos, last)
    fee = last * pos.qty * orders.costs.taker_fee if last else None
    numbers = (f"last {last}, unrealised {upnl:+.2f} USDT before an exit fee of about "
               f"{fee:.2f}" if last is not None and upnl is not None and fee is not None
               else "no market price yet")
    flags = [w for w, on in (("HALTED", engine.halted), ("PAUSED", engine.paused)) if on]
    engine.explain(
        ExplanationKind.DESK,
        f"Manual close {sym} (the trader's request): {pos.side.value} {pos.qty} @ "
        f"{_px(pos.entry_price)}, {numbers}. Sending a reduce-only market "
        f"{pos.side.opposite.order_side} {pos.qty}; the stop and target stay until it fills."
        + (" Cancelling the entry still working first." if entry is not None else "")
        + (f" The desk stays {' and '.join(flags)}." if flags else "")
        + (f" {pos.strategy} may not re-enter {sym} {pos.side.value} for "
           f"{REENTRY_PAUSE_MS // 60_000} min." if pos.strategy else ""),
        symbol=sym, strategy=pos.strategy, rule="manual_close")
    if entry is not None:
        orders.unwanted_entries.add(entry.client_id)  # a fill racing the cancel is closed too
        orders.cancel(entry)
    if pos.strategy:
        closes = _manual_closes(engine)
        closes[sym] = (pos.strategy, pos.side, engine.clock.now() + REENTRY_PAUSE_MS)
    # FLATTEN: a close the desk makes (not a strategy's); the paper venue fills it at once,
    # also with the market stream dead. The label ``manual`` names the trade's exit.
    orders.close(pos, OrderRole.FLATTEN, MANUAL)
    await engine.commit()
    return ActionResult(True, f"{sym}: reduce-only market {side.opposite.order_side} "
                              f"{qty} sent to close the {side.value} ({numbers}).")


async def stop_to_break_even(engine: Any, symbol: str) -> ActionResult:
    """Move ``symbol``'s stop to break-even (``break_even_stop``) if the risk rules allow."""
    sym = _symbol(symbol)
    what = "Stop to break-even on"
    orders = engine.orders
    why = _common_refusal(engine, sym)
    if not why and sym not in orders.plans:
        why = (f"the desk holds no stop plan for {sym} (a position adopted at reconciliation "
               "keeps the stop it has on the exchange)")
    if not why and _closing(engine, sym):
        why = "a close of this position is already working"
    if why:
        return await _refuse(engine, what, sym or "(no symbol)", why, "stop_move")
    pos: Position = engine.book.get(sym)
    plan = orders.plans[sym]
    fee = orders.costs.taker_fee
    spec = engine.spec(sym)
    be = break_even_stop(pos, fee, spec)
    current = pos.stop_loss if pos.stop_loss is not None else (plan.stop or None)
    last = _last(engine, sym)
    how = (f"break-even {be} = entry {_px(pos.entry_price)} with {pos.fees:.4f} USDT fees paid"
           + (f", {pos.funding:+.4f} funding" if pos.funding else "")
           + f" and a {fee * 100:.3f} % exit fee at the stop, rounded "
           f"{'up' if pos.side is Side.LONG else 'down'} to the {spec.tick_size} tick")
    if current == be:
        text = f"{what} {sym}: the stop is already at break-even ({how}). Nothing sent."
        engine.explain(ExplanationKind.DESK, text, symbol=sym, rule="stop_move")
        await engine.commit()
        return ActionResult(True, text)
    res = rule_stop_move(pos.side, be, last, current)
    if not res.passed:
        return await _refuse(engine, what, sym, f"{res.message} ({how})", res.rule)
    engine.explain(
        ExplanationKind.DESK,
        f"{what} {sym} (the trader's request): {how}; price {last}. Moving the stop from "
        f"{current} to {be}: the new stop first, the old one cancelled once the new one is "
        "live. A stop-out there now nets about zero.",
        symbol=sym, strategy=pos.strategy, rule="stop_move")
    orders.move_stop(sym, be)
    await engine.commit()
    return ActionResult(True, f"{sym}: stop moving from {current} to break-even {be} "
                              f"({how}; price {last}).", stop=be)


async def settled(engine: Any, symbol: str, *, close: bool, timeout: float,
                  stop: Decimal | None = None) -> str:
    """After an action, wait (bounded) for the venue's answer and say it in one sentence:
    the round trip a close made, or the stop the venue accepted."""
    import asyncio

    sym = _symbol(symbol)
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    seen = len(engine.trades)
    while loop.time() < end:
        pos = engine.book.get(sym)
        if close and pos is None:
            trip: RoundTrip | None = next((t for t in reversed(engine.trades[seen - 1:])
                                           if t.symbol == sym), None) if engine.trades else None
            if trip is None:
                return f"{sym} is flat."
            exit_px = trip.exit_price.quantize(engine.spec(sym).tick_size)
            return (f"{sym} closed at {exit_px}: net {trip.pnl:+.2f} USDT after "
                    f"{trip.fees:.2f} fees (exit reason {trip.reason}).")
        if not close and (pos is None or (
                pos.stop_loss == orders_stop(engine, sym) and not _stop_in_flight(engine, sym))):
            if pos is None:
                return f"{sym} closed meanwhile."
            if stop is not None and pos.stop_loss != stop:
                return (f"{sym}: the venue did NOT take the stop at {stop}; it holds the stop "
                        f"at {pos.stop_loss} (the desk's log says why).")
            return f"{sym}: the venue holds the stop at {pos.stop_loss}."

        await asyncio.sleep(0.05)
    return f"{sym}: the venue has not confirmed yet after {timeout:g} s; the desk's log follows."


def orders_stop(engine: Any, symbol: str) -> Decimal | None:
    plan = engine.orders.plans.get(symbol)
    return plan.stop if plan is not None else None


def _stop_in_flight(engine: Any, symbol: str) -> bool:
    orders = engine.orders
    return any(i.role is OrderRole.STOP and (i.client_id not in orders.acked
                                             or i.client_id in orders._cancelling)
               for i in orders.protection(symbol))


def _manual_closes(engine: Any) -> dict[str, tuple[str, Side, int]]:
    closes = getattr(engine, "_manual_closes", None)
    if closes is None:
        closes = engine._manual_closes = {}
    return closes


def reentry_block(engine: Any, sig: Signal) -> str:
    """Why ``sig`` would re-open a trade the trader just closed by hand ("" if it would not)."""
    closes = getattr(engine, "_manual_closes", None)
    if not closes or sig.symbol not in closes:
        return ""
    strategy, side, until = closes[sig.symbol]
    left = until - engine.clock.now()
    if left <= 0:
        del closes[sig.symbol]
        return ""
    if sig.strategy != strategy or sig.side is not side:
        return ""
    # "asked to": the stop may have closed the trade before the trader's close reached it.
    return (f"the trader asked to close {strategy}'s {side.value} {sig.symbol} by hand; it "
            "may not "
            f"re-enter {side.value} for {left / 60_000:.1f} more min")


async def act_and_wait(engine: Any, cmd: str, symbol: str, wait: float) -> dict[str, Any]:
    """The control socket's ``close`` / ``stop_to_breakeven``: act, then wait up to ``wait``
    seconds for the venue's answer, so the CLI says what happened, not only what was sent."""
    close = cmd == "close"
    res = await (engine.close_manually if close else engine.stop_to_breakeven)(symbol)
    answer: dict[str, Any] = {"ok": True, **res.to_json()}
    if res.done:
        answer["outcome"] = await settled(engine, symbol, close=close, timeout=wait,
                                          stop=res.stop)
        pos = engine.book.get(_symbol(symbol))
        if (not close and res.stop is not None and pos is not None
                and pos.stop_loss != res.stop and not _stop_in_flight(engine, pos.symbol)):
            answer["done"] = False  # the venue refused the new stop: the CLI exits 3
    return answer
