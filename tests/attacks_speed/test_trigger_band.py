"""The paper venue's trigger band (engine/paper_triggers.py) skips events that reach no
level. Differential attack: the same random session on the venue and on one whose band
never skips (every event checks every order, as before the band) must give the very same
fills, order reports, balance and positions — through moved stops, partial reduce-only
closes, cancels, leverage changes (liquidation levels), funding, a restart from saved state,
two symbols, and bars, quotes, trades and mark prices mixed."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from tapedesk.engine.events import (
    Bar,
    MarkPrice,
    OrderIntent,
    OrderRole,
    OrderType,
    Quote,
    Trade,
)
from tapedesk.engine.paper_triggers import _ANY_PRICE
from tapedesk.engine.paper_venue import PaperVenue

SYMS = ("BTCUSDT", "ETHUSDT")


class _Sink:
    def __init__(self) -> None:
        self.log: list[tuple] = []

    def on_fill(self, f: Any) -> None:
        self.log.append(("fill", f.client_id, f.side, f.qty, f.price, f.fee, f.ts, f.role))

    def on_order_update(self, u: Any) -> None:
        self.log.append(("update", u.client_id, str(u.status), u.ts))

    def on_funding(self, symbol: str, amount: Decimal, rate: float, ts: int) -> None:
        self.log.append(("funding", symbol, amount, ts))

    def on_venue_error(self, text: str) -> None:
        self.log.append(("error", text))


class _NoBand(PaperVenue):
    """Every event reaches the full trigger check (the behaviour the band must equal)."""

    def _band(self, sym: str) -> tuple[float, float]:
        return _ANY_PRICE


def _venue(cls: type, kind: int) -> PaperVenue:
    v = cls(Decimal(1000), latency_ms=(0, 50, 0)[kind], fill_at=("auto", "next-open", "close")[kind])
    return v


def _session(seed: int) -> list[tuple]:
    rnd = random.Random(seed)
    kind = seed % 3
    venues = [_venue(PaperVenue, kind), _venue(_NoBand, kind)]
    sinks = [_Sink(), _Sink()]
    for v, s in zip(venues, sinks, strict=True):
        v.bind(s)
        for sym in SYMS:
            v.set_leverage(sym, 20)
    px = {"BTCUSDT": 30_000.0, "ETHUSDT": 2_000.0}
    ts = 1_700_000_000_000

    def do(fn: Any) -> None:
        for v in venues:
            fn(v)

    for n in range(1, 401):
        sym = rnd.choice(SYMS)
        p = px[sym]
        r = rnd.random()
        if r < 0.25:  # an order
            side = rnd.choice(("BUY", "SELL"))
            typ = rnd.choice((OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_MARKET,
                              OrderType.TAKE_PROFIT_MARKET))
            off = Decimal(str(round(p * rnd.uniform(-0.02, 0.02), 1)))
            level = Decimal(str(round(p, 1))) + off
            qty = Decimal("0.001") * rnd.randint(1, 30) if sym == "BTCUSDT" else \
                Decimal("0.01") * rnd.randint(1, 30)
            reduce = typ in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET) or \
                rnd.random() < 0.2
            role = {OrderType.STOP_MARKET: OrderRole.STOP,
                    OrderType.TAKE_PROFIT_MARKET: OrderRole.TAKE_PROFIT}.get(
                typ, OrderRole.EXIT if reduce else OrderRole.ENTRY)
            intent = OrderIntent(f"c{n}", sym, side, typ, qty, role, ts,
                                 price=level if typ is OrderType.LIMIT else None,
                                 stop_price=level if typ not in (OrderType.MARKET,
                                                                 OrderType.LIMIT) else None,
                                 reduce_only=reduce)
            do(lambda v, i=intent: v.submit(i))
        elif r < 0.32:  # cancel one (a moved stop is a cancel and a new order)
            ids = sorted(venues[0].orders)
            if ids:
                cid = rnd.choice(ids)
                where = venues[0].orders[cid].intent.symbol
                do(lambda v, c=cid, w=where: v.cancel(w, c))
        elif r < 0.35:
            lev = rnd.choice((1, 5, 20, 50, 125))
            do(lambda v, s=sym, x=lev: v.set_leverage(s, x))
        elif r < 0.38:  # a restart: the saved state into a fresh venue
            kept = []
            for v, s in zip(venues, sinks, strict=True):
                fresh = _venue(type(v), kind)
                fresh.bind(s)
                fresh.specs = v.specs
                fresh.load_state(v.to_state())
                kept.append(fresh)
            venues[:] = kept
        else:  # market data
            ts += rnd.choice((1_000, 60_000, 3_600_000))
            move = p * rnd.uniform(-0.01, 0.01)
            q = rnd.random()
            if q < 0.4:
                o, c = p, p + move
                hi = max(o, c) + abs(move) * rnd.random()
                lo = min(o, c) - abs(move) * rnd.random()
                ev: Any = Bar(sym, ts - 59_999, ts, o, hi, lo, c, 1.0)
                p = c
            elif q < 0.7:
                p += move
                ev = Quote(sym, ts, round(p - 0.1, 1), 1.0, round(p + 0.1, 1), 1.0)
            elif q < 0.9:
                p += move
                ev = Trade(sym, ts, round(p, 1), 1.0, False)
            else:
                ev = MarkPrice(sym, ts, p + move, rnd.uniform(-0.001, 0.001),
                               (ts // 28_800_000 + 1) * 28_800_000)
            px[sym] = p
            do(lambda v, e=ev: v.on_market(e))
    out = []
    for v, s in zip(venues, sinks, strict=True):
        out.append((s.log, v.balance, sorted((k, p.qty, p.entry_price, p.liquidation_price)
                                             for k, p in v.book.positions.items()),
                    sorted(v.orders)))
    return out


@pytest.mark.parametrize("block", range(6))
def test_the_band_never_changes_what_fills(block: int):
    fills = 0
    for seed in range(block * 40, block * 40 + 40):
        banded, plain = _session(seed)
        assert banded == plain, f"seed {seed}"
        fills += sum(1 for e in plain[0] if e[0] == "fill")
    assert fills > 40  # the sessions do trade
