"""The sentences a trader reads in the explanation log, built in one place.

Numbers are formatted the way a trader reads them (thousands separators, percentages
with two decimals, dollars with cents) so the same fact always reads the same.
"""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.events import Decision, Fill, OrderRole, RoundTrip, Signal, SignalKind


def price(value: float | Decimal) -> str:
    """>= 1000: one decimal unless the second one is needed; >= 1: two unless four are.

    Worded from the longer form alone (called for every signal of a backtest): a rounded
    form ending in zeros is exactly the shorter rounding, so no ``round`` is needed."""
    v = float(value)
    if v >= 1000:
        s = f"{v:,.2f}"
        return s[:-1] if s[-1] == "0" else s
    if v >= 1:
        s = f"{v:,.4f}"
        return s[:-2] if s.endswith("00") else s
    return f"{v:.6g}"


def money(value: float | Decimal) -> str:
    v = float(value)
    return f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}"


def signed_money(value: float | Decimal) -> str:
    v = float(value)
    return f"+${v:,.2f}" if v >= 0 else f"-${-v:,.2f}"


def pct(value: float) -> str:
    return f"{value:.2f} %"


def signal_head(sig: Signal) -> str:
    return f"{sig.side} {sig.symbol}"


def taken(decision: Decision, equity: Decimal, risk_pct: float) -> str:
    sig = decision.signal
    if sig.kind is SignalKind.EXIT:
        return taken_exit(sig)
    n = decision.numbers
    parts = [
        f"Took {signal_head(sig)} {decision.qty} @ ~{price(sig.entry)} ({sig.strategy}):",
        f"stop {price(sig.stop_loss)} ({pct(n.get('stop_pct', 0.0))})",
        f"target {price(sig.take_profit)}" if sig.take_profit else "no target",
        f"risk {money(n.get('risk_amount', 0))} = {risk_pct:.2f} % of {money(equity)} "
        f"incl. fees and slippage {money(n.get('risk_costs', 0))}",
        f"{decision.leverage}x isolated.",
    ]
    text = ", ".join(parts[1:])
    text = f"{parts[0]} {text}"
    if n.get("capped_by_leverage"):
        text += f" Size capped by the {n['max_leverage']}x leverage limit."
    if sig.reasons:
        text += " Why: " + "; ".join(sig.reasons)
    return text


def taken_exit(sig: Signal) -> str:
    """``taken`` of an accepted exit: it reads the signal alone (so a backtest keeps only the
    signal for the line, not the Decision)."""
    return f"Exit {sig.symbol} {sig.side} ({sig.strategy}): {'; '.join(sig.reasons)}"


def refused(decision: Decision) -> str:
    sig = decision.signal
    return refused_line(sig.side, sig.symbol, sig.strategy, decision.text)


def refused_line(side: object, symbol: str, strategy: str, text: str) -> str:
    """``refused`` from the fields it reads (``Refusal.line``: a backtest keeps those alone)."""
    return f"Refused {side} {symbol} ({strategy}): {text}"


def fill(f: Fill, exit_reason: str = "") -> str:
    """``exit_reason`` "manual": the trader's own close (engine.position_actions), which
    travels as a FLATTEN like the emergency stop's but must not read as one."""
    what = "Manual close filled" if f.role is OrderRole.FLATTEN and exit_reason == "manual" \
        else {
        OrderRole.ENTRY: "Entry filled",
        OrderRole.STOP: "Stop-loss filled",
        OrderRole.TAKE_PROFIT: "Take-profit filled",
        OrderRole.EXIT: "Exit filled",
        OrderRole.FLATTEN: "Emergency close filled",
        OrderRole.LIQUIDATION: "LIQUIDATED",
    }[f.role]
    return f"{what}: {f.side} {f.qty} {f.symbol} @ {price(f.price)}, fee {money(f.fee)} ({f.liquidity})."


def round_trip(t: RoundTrip) -> str:
    r = t.r_multiple
    r_txt = f", {r:+.2f}R" if r is not None else ""
    return (
        f"Closed {t.side} {t.symbol} {t.qty}: {price(t.entry_price)} → {price(t.exit_price)} "
        f"({t.reason}); net {signed_money(t.pnl)}{r_txt} after fees {money(t.fees)} "
        f"and funding {signed_money(t.funding)}."
    )
