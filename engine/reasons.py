"""A Signal's reasons, worded when first read rather than when the signal is made.

A backtest makes hundreds of thousands of signals and reads the reasons of a few: the
risk engine refuses most of a grid's entries for margin, and only the explanations still
kept at the end are worded (explain_log.py). Formatting three prices per signal was a few
per cent of a whole grid run, for text nobody read. ``Reasons(word, *args)`` keeps the
wording function and its arguments (plain numbers and strings taken when the signal was
made, never live state) and reads as ``word(*args)`` from the first look on, so every
text that is read is byte for byte the text an eager list would have held.

It is a read-only ``Sequence[str]``: join it, index it, slice it (a list), compare it with
a list. ``list(reasons)`` is what goes into JSON (records.py); a pickle (a checkpoint's
strategy state) holds the plain list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload


class Reasons(Sequence[str]):
    """``word(*args)``, called once, on first access; then a plain list behind the scenes."""

    __slots__ = ("_args", "_word", "_words")

    def __init__(self, word: Callable[..., list[str]], *args: Any) -> None:
        self._word: Callable[..., list[str]] | None = word
        self._args: tuple[Any, ...] = args
        self._words: list[str] | None = None

    def words(self) -> list[str]:
        """The reasons as a list (worded now if nobody read them yet)."""
        words = self._words
        if words is None:
            assert self._word is not None
            words = self._words = list(self._word(*self._args))
            self._word = None  # the arguments are no longer needed: let them go
            self._args = ()
        return words

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        return self.words()[i]

    def __len__(self) -> int:
        return len(self.words())

    def __iter__(self) -> Iterator[str]:
        return iter(self.words())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Reasons):
            other = other.words()
        return self.words() == other

    __hash__ = None  # type: ignore[assignment]  # equal to a list, so unhashable like one

    def __repr__(self) -> str:
        return repr(self.words())

    def __reduce__(self) -> tuple[type, tuple[list[str]]]:
        return list, (list(self.words()),)
