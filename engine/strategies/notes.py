"""Trades *not* taken, in words: a strategy's skip notes for the explanation log.

A Signal carries the reasons for a trade; a setup that was seen and refused by the
strategy itself (stop outside the band, trend against it) leaves no Signal, so the
strategy keeps a short bounded list of notes instead. The engine may ``drain_notes()``
after each handler call and journal them as refusals ("every trade must be explainable"
includes the ones not taken).

A note is kept as (ts, symbol, word, args) and worded as ``word(*args)`` when read: a
backtest explains tens of thousands of them and reads only the last few (the engine takes
them unworded, ``drain_note_words``, into its lazy explanation log). ``args`` are plain
values taken when the note was made, never live state, so the text read is the same.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any


def _as_is(text: str) -> str:
    return text


class SkipNotes:
    """Mixin: ``self._note(ts, symbol, text)`` or ``self._note_by(ts, symbol, word, *args)``;
    ``drain_notes()`` → [(ts, symbol, text)]."""

    notes: deque[tuple[int, str, Callable[..., str], tuple[Any, ...]]]

    def _init_notes(self, maxlen: int = 500) -> None:
        self.notes = deque(maxlen=maxlen)

    def _note(self, ts: int, symbol: str, text: str) -> None:
        self.notes.append((ts, symbol, _as_is, (text,)))

    def _note_by(self, ts: int, symbol: str, word: Callable[..., str], *args: Any) -> None:
        """A note worded as ``word(*args)`` when read."""
        self.notes.append((ts, symbol, word, args))

    def drain_notes(self) -> list[tuple[int, str, str]]:
        out = [(ts, symbol, word(*args)) for ts, symbol, word, args in self.notes]
        self.notes.clear()
        return out

    def drain_note_words(self) -> list[tuple[int, str, Callable[..., str], tuple[Any, ...]]]:
        """The notes unworded: (ts, symbol, word, args), text = ``word(*args)``."""
        out = list(self.notes)
        self.notes.clear()
        return out
