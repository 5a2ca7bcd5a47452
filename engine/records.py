"""Journal rows the engine writes for fills and risk decisions (parameters always bound)."""

from __future__ import annotations

import json
from decimal import Decimal

from tapedesk.engine.events import Decision, Fill
from tapedesk.engine.journal import Record


def fill_record(fill: Fill) -> Record:
    return (
        "INSERT INTO fills (client_id, seq, trade_id, ts, symbol, side, qty, price, fee, "
        "liquidity, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (fill.client_id, fill.seq, fill.trade_id, fill.ts, fill.symbol, fill.side,
         str(fill.qty), str(fill.price), str(fill.fee), str(fill.liquidity), str(fill.role)),
    )


def decision_record(dec: Decision) -> Record:
    sig = dec.signal
    numbers = {**dec.numbers, "reasons": sig.reasons, "passed": dec.passed, "qty": str(dec.qty)}
    return (
        "INSERT INTO decisions (ts, strategy, symbol, side, kind, accepted, rule, text, numbers)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (sig.ts, sig.strategy, sig.symbol, str(sig.side), str(sig.kind), int(dec.accepted),
         dec.rule, dec.text, json.dumps(numbers, default=str)),
    )


def funding_record(ts: int, symbol: str, amount: Decimal, rate: float) -> Record:
    return ("INSERT INTO funding (ts, symbol, amount, rate) VALUES (?, ?, ?, ?)",
            (ts, symbol, str(amount), rate))
