"""Journal rows the engine writes for fills and risk decisions (parameters always bound)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tapedesk.engine.events import Decision, Fill, Liquidity, OrderRole
from tapedesk.engine.journal import Record

FILL_COLUMNS = "client_id, symbol, side, qty, price, fee, ts, liquidity, role, seq, trade_id"


def fill_key(fill: Fill) -> tuple[str, str]:
    """What makes a fill the same fill: the exchange's trade id, else the order's seq (paper)."""
    return fill.client_id, fill.trade_id or f"#{fill.seq}"


def row_to_fill(r: tuple[Any, ...]) -> Fill:
    """A row selected with ``FILL_COLUMNS``."""
    return Fill(r[0], r[1], r[2], Decimal(r[3]), Decimal(r[4]), Decimal(r[5]), int(r[6]),
                Liquidity(r[7]), OrderRole(r[8]), int(r[9]), r[10] or "")


def fill_record(fill: Fill, position_id: str = "") -> Record:
    """``position_id``: the position the fill opened, added to or closed (trade_story.py)."""
    return (
        "INSERT OR IGNORE INTO fills (client_id, seq, trade_id, ts, symbol, side, qty, price, fee, "
        "liquidity, role, position_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (fill.client_id, fill.seq, fill.trade_id, fill.ts, fill.symbol, fill.side,
         str(fill.qty), str(fill.price), str(fill.fee), str(fill.liquidity), str(fill.role),
         position_id),
    )


def decision_record(dec: Decision, position_id: str = "") -> Record:
    """The signal's own prices ride in ``numbers`` too: a trade's story shows what the
    strategy asked for beside what risk made of it."""
    sig = dec.signal
    # A refusal's Decision has qty 0: the quantity the sizing rules refused is the one in
    # its numbers (the minimums rule's "qty"), when they got that far.
    numbers = {**dec.numbers, "reasons": list(sig.reasons), "passed": dec.passed,
               "qty": str(dec.qty) if dec.accepted else dec.numbers.get("qty", str(dec.qty)),
               "entry": sig.entry, "stop_loss": sig.stop_loss, "take_profit": sig.take_profit,
               "confidence": sig.confidence, "leverage": dec.leverage}
    return (
        "INSERT INTO decisions (ts, strategy, symbol, side, kind, accepted, rule, text, numbers,"
        " position_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (sig.ts, sig.strategy, sig.symbol, str(sig.side), str(sig.kind), int(dec.accepted),
         dec.rule, dec.text, json.dumps(numbers, default=str), position_id),
    )


def funding_record(ts: int, symbol: str, amount: Decimal, rate: float) -> Record:
    return ("INSERT INTO funding (ts, symbol, amount, rate) VALUES (?, ?, ?, ?)",
            (ts, symbol, str(amount), rate))
