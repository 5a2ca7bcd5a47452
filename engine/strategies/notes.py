"""Trades *not* taken, in words: a strategy's skip notes for the explanation log.

A Signal carries the reasons for a trade; a setup that was seen and refused by the
strategy itself (stop outside the band, trend against it) leaves no Signal, so the
strategy keeps a short bounded list of notes instead. The engine may ``drain_notes()``
after each handler call and journal them as refusals ("every trade must be explainable"
includes the ones not taken).
"""

from __future__ import annotations

from collections import deque


class SkipNotes:
    """Mixin: ``self._note(ts, symbol, text)``; ``drain_notes()`` → [(ts, symbol, text)]."""

    notes: deque[tuple[int, str, str]]

    def _init_notes(self, maxlen: int = 500) -> None:
        self.notes = deque(maxlen=maxlen)

    def _note(self, ts: int, symbol: str, text: str) -> None:
        self.notes.append((ts, symbol, text))

    def drain_notes(self) -> list[tuple[int, str, str]]:
        out = list(self.notes)
        self.notes.clear()
        return out
