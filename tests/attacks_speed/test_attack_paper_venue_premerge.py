"""The fill-book branch changed the paper venue (trigger bands dropped by ``_changed``, the
version bumped once per fill instead of twice, reduce-only orders vetted before the spec
lookup, slippage factors computed once). Differential attack against the pre-merge venue
itself (66d3d72's paper_venue.py and paper_triggers.py, read from git): random sessions on
two symbols — entries, limits, stops and targets, reduce-only closes larger than the
position, cancels, leverage changes, restarts from saved state, bars, quotes, trades and
mark prices with funding — with a sink that reacts inside the venue's callbacks as the
engine does (a stop and a target placed from an entry's fill, the other leg cancelled when
one fills). Fills, order reports, funding, balance, positions and resting orders must be
the same, call for call."""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tapedesk.engine.events import (
    Bar,
    MarkPrice,
    OrderIntent,
    OrderRole,
    OrderStatus,
    OrderType,
    Quote,
    Trade,
)
from tapedesk.engine.paper_venue import PaperVenue

PRE_MERGE = "66d3d72"
ROOT = Path(__file__).resolve().parents[2]
SYMS = ("BTCUSDT", "ETHUSDT")


def _old_venue_class(tmp: Path) -> type:
    """66d3d72's PaperVenue, its triggers module imported under another name."""
    def show(path: str) -> str:
        out = subprocess.run(["git", "-C", str(ROOT), "show", f"{PRE_MERGE}:{path}"],
                             capture_output=True, text=True, check=False)
        if out.returncode:
            pytest.skip(f"the pre-merge commit {PRE_MERGE} is not in this checkout "
                        f"(a shallow clone?): {out.stderr.strip()[:120]}")
        return out.stdout

    (tmp / "premerge_paper_triggers.py").write_text(show("engine/paper_triggers.py"))
    venue_src = show("engine/paper_venue.py").replace(
        "from tapedesk.engine.paper_triggers import", "from premerge_paper_triggers import")
    (tmp / "premerge_paper_venue.py").write_text(venue_src)
    sys.path.insert(0, str(tmp))
    try:
        for name in ("premerge_paper_triggers", "premerge_paper_venue"):
            sys.modules.pop(name, None)
            spec = importlib.util.spec_from_file_location(name, tmp / f"{name}.py")
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(tmp))
    return sys.modules["premerge_paper_venue"].PaperVenue


class _ReactiveSink:
    """Logs everything; like the engine, protects an entry's fill at once (inside the
    callback) and cancels the other leg when a stop or target fills."""

    def __init__(self) -> None:
        self.log: list[tuple] = []
        self.venue: Any = None
        self.n = 0

    def on_fill(self, f: Any) -> None:
        self.log.append(("fill", f.client_id, f.side, f.qty, f.price, f.fee, f.ts, f.role,
                         f.trade_id))
        v = self.venue
        if f.role is OrderRole.ENTRY and f.symbol in v.book.positions:
            pos = v.book.positions[f.symbol]
            long = pos.side.value == "long"
            out = "SELL" if long else "BUY"
            step = pos.entry_price * Decimal("0.004")
            stop = (pos.entry_price - step if long else pos.entry_price + step).quantize(
                Decimal("0.1"))
            target = (pos.entry_price + 2 * step if long else pos.entry_price - 2 * step
                      ).quantize(Decimal("0.1"))
            self.n += 1
            for typ, role, level in ((OrderType.STOP_MARKET, OrderRole.STOP, stop),
                                     (OrderType.TAKE_PROFIT_MARKET, OrderRole.TAKE_PROFIT,
                                      target)):
                v.submit(OrderIntent(f"p{self.n}{role.value[0]}", f.symbol, out, typ,
                                     pos.qty, role, f.ts, None, level, True, "s"))
        elif f.role in (OrderRole.STOP, OrderRole.TAKE_PROFIT):
            other = f.client_id[:-1] + ("t" if f.client_id.endswith("s") else "s")
            if other in v.orders:
                v.cancel(f.symbol, other)

    def on_order_update(self, u: Any) -> None:
        self.log.append(("update", u.client_id, str(u.status), u.ts, u.reason))
        if u.status is OrderStatus.REJECTED:
            return

    def on_funding(self, symbol: str, amount: Decimal, rate: float, ts: int) -> None:
        self.log.append(("funding", symbol, amount, rate, ts))

    def on_venue_error(self, text: str) -> None:
        self.log.append(("error", text))


def _session(seed: int, old_cls: type) -> list[tuple]:
    rnd = random.Random(seed)
    kind = seed % 3
    lat, fill_at = (0, 50, 0)[kind], ("auto", "next-open", "close")[kind]

    def make(cls: type) -> Any:
        return cls(Decimal(3000), latency_ms=lat, fill_at=fill_at, slippage_bps=1.5)

    venues = [make(PaperVenue), make(old_cls)]
    sinks = [_ReactiveSink(), _ReactiveSink()]
    for v, s in zip(venues, sinks, strict=True):
        v.bind(s)
        s.venue = v
        for sym in SYMS:
            v.set_leverage(sym, 20)
    px = {"BTCUSDT": 30_000.0, "ETHUSDT": 2_000.0}
    ts = 1_700_000_000_000

    def do(fn: Any) -> None:
        for v in venues:
            fn(v)

    for n in range(1, 301):
        sym = rnd.choice(SYMS)
        p = px[sym]
        r = rnd.random()
        if r < 0.2:
            side = rnd.choice(("BUY", "SELL"))
            typ = rnd.choice((OrderType.MARKET, OrderType.MARKET, OrderType.LIMIT,
                              OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET))
            level = Decimal(str(round(p, 1))) + Decimal(str(round(p * rnd.uniform(-0.01, 0.01),
                                                                    1)))
            qty = (Decimal("0.001") if sym == "BTCUSDT" else Decimal("0.01")) * rnd.randint(1, 40)
            reduce = typ in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET) or \
                rnd.random() < 0.25
            role = {OrderType.STOP_MARKET: OrderRole.STOP,
                    OrderType.TAKE_PROFIT_MARKET: OrderRole.TAKE_PROFIT}.get(
                typ, OrderRole.EXIT if reduce else OrderRole.ENTRY)
            intent = OrderIntent(f"c{n}", sym, side, typ, qty, role, ts,
                                 level if typ is OrderType.LIMIT else None,
                                 level if typ in (OrderType.STOP_MARKET,
                                                  OrderType.TAKE_PROFIT_MARKET) else None,
                                 reduce)
            do(lambda v, i=intent: v.submit(i))
        elif r < 0.27:
            ids = sorted(venues[0].orders)
            if ids:
                cid = rnd.choice(ids)
                where = venues[0].orders[cid].intent.symbol
                do(lambda v, c=cid, w=where: v.cancel(w, c))
        elif r < 0.3:
            lev = rnd.choice((1, 5, 20, 50, 125))
            do(lambda v, s=sym, x=lev: v.set_leverage(s, x))
        elif r < 0.33:  # a restart: the saved state into a fresh venue
            kept = []
            for v, s in zip(venues, sinks, strict=True):
                fresh = make(type(v))
                fresh.bind(s)
                s.venue = fresh
                fresh.load_state(v.to_state())
                kept.append(fresh)
            venues[:] = kept
        else:
            ts += rnd.choice((1_000, 60_000, 3_600_000))
            move = p * rnd.uniform(-0.012, 0.012)
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
    return [(s.log, v.balance, v.fees_paid, v.funding_paid, repr(sorted(v.book.positions.items())),
             sorted(v.orders), v.to_state()) for v, s in zip(venues, sinks, strict=True)]


@pytest.fixture(scope="module")
def old_cls(tmp_path_factory: pytest.TempPathFactory) -> type:
    return _old_venue_class(tmp_path_factory.mktemp("premerge"))


@pytest.mark.parametrize("block", range(4))
def test_the_venue_fills_exactly_as_the_pre_merge_venue(block: int, old_cls: type):
    fills = protected = 0
    for seed in range(block * 30, block * 30 + 30):
        new, old = _session(seed, old_cls)
        assert new == old, f"seed {seed}"
        fills += sum(1 for e in new[0] if e[0] == "fill")
        protected += sum(1 for e in new[0] if e[0] == "fill" and e[7] is OrderRole.STOP)
    assert fills > 60 and protected > 5  # the sessions trade, and stops placed from fills fire
