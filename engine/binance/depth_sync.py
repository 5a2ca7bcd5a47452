"""A local order book kept in step with Binance's USDT-M diff-depth stream.

Binance's rules ("How to manage a local order book correctly", USDT-M futures,
https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/How-to-manage-a-local-order-book-correctly):

1. open ``<symbol>@depth`` and buffer its events;
2. get a REST snapshot (``/fapi/v1/depth?limit=1000``) and its ``lastUpdateId``;
3. drop buffered events with ``u < lastUpdateId``;
4. the first event applied must have ``U <= lastUpdateId <= u``;
5. from then on each event's ``pu`` must equal the previous event's ``u``; otherwise the book
   has a gap: start again from step 2.

``DepthSync`` holds that state machine for one symbol and turns it into engine ``Depth``
events: the snapshot (``is_snapshot=True``, the strategy's book is replaced) then the diffs in
order. On a gap it emits an *empty* snapshot at once, so no strategy keeps trading on a book
known to be wrong while the new snapshot is on its way.
"""

from __future__ import annotations

from typing import Any

from tapedesk.engine.events import Depth

MAX_BUFFER = 5000  # events kept while a snapshot is awaited; beyond that, start over


def _levels(raw: Any) -> list[tuple[float, float]]:
    return [(float(p), float(q)) for p, q in raw]


class DepthSync:
    """Feed it ``on_diff`` (depthUpdate messages) and ``on_snapshot`` (REST answers); it returns
    the ``Depth`` events to pass on. ``needs_snapshot`` says when to fetch one.

    States: buffering (no snapshot yet) → bridging (snapshot applied, waiting for the event
    with ``U <= lastUpdateId <= u``) → synced (checking ``pu`` against the previous ``u``)."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol.upper()
        self.snapshot_id: int | None = None  # set while bridging
        self.last_u: int | None = None  # set while synced
        self.buffer: list[dict[str, Any]] = []
        self.resyncs = 0  # gaps seen (for the log and tests)
        self.snapshots = 0
        self.last_gap = ""

    @property
    def synced(self) -> bool:
        return self.last_u is not None

    @property
    def needs_snapshot(self) -> bool:
        return self.snapshot_id is None and self.last_u is None

    def reset(self, why: str = "", ts: int = 0) -> list[Depth]:
        """Forget the book (a reconnect, a gap): buffer again and ask for a snapshot. Returns
        an empty snapshot event if a book had been handed out (it is unknown from now on)."""
        handed_out = self.snapshot_id is not None or self.last_u is not None
        self.snapshot_id = self.last_u = None
        self.buffer.clear()
        if why:
            self.resyncs += 1
            self.last_gap = why
        return [Depth(self.symbol, ts, [], [], True)] if handed_out else []

    def on_diff(self, msg: dict[str, Any]) -> list[Depth]:
        first, final = int(msg["U"]), int(msg["u"])
        if self.last_u is not None:
            if int(msg["pu"]) != self.last_u:
                out = self.reset(f"gap: pu {msg['pu']} after u {self.last_u}", int(msg["E"]))
                self.buffer.append(msg)
                return out
            self.last_u = final
            return [self._event(msg)]
        if self.snapshot_id is not None:
            if final < self.snapshot_id:
                return []  # older than the snapshot
            if first <= self.snapshot_id:
                self.snapshot_id, self.last_u = None, final
                return [self._event(msg)]
            out = self.reset(f"gap: first event U {first} after snapshot "
                             f"{self.snapshot_id}", int(msg["E"]))
            self.buffer.append(msg)
            return out
        self.buffer.append(msg)
        if len(self.buffer) > MAX_BUFFER:
            del self.buffer[: len(self.buffer) - MAX_BUFFER]
        return []

    def on_snapshot(self, snap: dict[str, Any]) -> list[Depth]:
        """Apply a REST snapshot, then what was buffered. A snapshot older than every buffered
        event that reaches it cannot be bridged: it is dropped and a newer one is needed."""
        if not self.needs_snapshot:
            return []
        last_id = int(snap["lastUpdateId"])
        pending = [m for m in self.buffer if int(m["u"]) >= last_id]
        if pending and int(pending[0]["U"]) > last_id:
            self.buffer = pending
            return []  # still needs_snapshot
        self.snapshots += 1
        self.buffer = []
        self.snapshot_id = last_id
        ts = int(snap.get("E") or snap.get("T") or 0)
        out = [Depth(self.symbol, ts, _levels(snap["bids"]), _levels(snap["asks"]), True)]
        for msg in pending:
            out.extend(self.on_diff(msg))
        return out

    def _event(self, msg: dict[str, Any]) -> Depth:
        return Depth(self.symbol, int(msg["E"]), _levels(msg["b"]), _levels(msg["a"]), False)
