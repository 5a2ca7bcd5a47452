"""Order book depth as Binance USDT-M serves it: a REST snapshot (GET /fapi/v1/depth, with
``lastUpdateId``) and a diff stream (``<symbol>@depth`` / ``@depth@100ms`` / ``@depth@500ms``)
whose events carry ``U`` (first update id), ``u`` (final) and ``pu`` (the previous event's
``u``). A client keeps a local book by taking the snapshot, dropping events with
``u < lastUpdateId``, and checking ``pu`` equals the last ``u`` it applied — a mismatch is a
gap and means a new snapshot. ``DepthBook.gap()`` makes the next event skip ids, so a test can
check that resync.

The book itself is synthetic and deterministic: five levels each side around the last price,
one tick apart, sizes growing away from the top.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.local_exchange.model import fmt

LEVELS = 5


class DepthBook:
    def __init__(self, symbol: str, tick: Decimal) -> None:
        self.symbol = symbol
        self.tick = tick
        self.last_id = 1_000
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self._skip = 0

    def gap(self, ids: int = 5) -> None:
        """An event covering ``ids`` update ids is lost: the next one's ``pu`` is not the
        last ``u`` the client saw."""
        self._skip = ids

    def _levels(self, price: Decimal) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        bids = {price - i * self.tick: Decimal("0.5") * (i + 1) for i in range(LEVELS)}
        asks = {price + (i + 1) * self.tick: Decimal("0.4") * (i + 1) for i in range(LEVELS)}
        return bids, asks

    def move(self, price: Decimal, ts: int) -> dict[str, Any]:
        """The book after a price move, as one diff event (removed levels with qty 0)."""
        bids, asks = self._levels(price)
        changes_b = _diff(self.bids, bids)
        changes_a = _diff(self.asks, asks)
        self.bids, self.asks = bids, asks
        prev = self.last_id + self._skip  # a lost event would have ended at this id
        self._skip = 0
        first = prev + 1
        self.last_id = first + max(len(changes_b) + len(changes_a), 1) - 1
        return {"e": "depthUpdate", "E": ts, "T": ts, "s": self.symbol, "U": first,
                "u": self.last_id, "pu": prev,
                "b": [[fmt(p), fmt(q)] for p, q in changes_b],
                "a": [[fmt(p), fmt(q)] for p, q in changes_a]}

    def snapshot(self, limit: int, ts: int) -> dict[str, Any]:
        """GET /fapi/v1/depth: best first."""
        bids = sorted(self.bids.items(), reverse=True)[:limit]
        asks = sorted(self.asks.items())[:limit]
        return {"lastUpdateId": self.last_id, "E": ts, "T": ts,
                "bids": [[fmt(p), fmt(q)] for p, q in bids],
                "asks": [[fmt(p), fmt(q)] for p, q in asks]}


def _diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]
          ) -> list[tuple[Decimal, Decimal]]:
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out += [(p, Decimal(0)) for p in old if p not in new]
    return sorted(out)
