"""A Signal's reasons, worded when first read rather than when the signal is made.

A backtest makes hundreds of thousands of signals and reads the reasons of a few: the
risk engine refuses most of a grid's entries for margin, and only the explanations still
kept at the end are worded (explain_log.py). Formatting three prices per signal was a few
per cent of a whole grid run, for text nobody read. ``Reasons(word, *args)`` keeps the
wording function and its arguments (plain numbers and strings taken when the signal was
made, never live state) and reads as ``word(*args)`` from the first look on, so every
text that is read is byte for byte the text an eager list would have held.

It behaves as the list it stands for: join it, index it, slice it (a list), compare it
with a list, and ``append``/``extend``/``+`` to it (a plugin that subclasses a built-in and
adds a reason of its own keeps working; the built-in's reasons are worded first).
``list(reasons)`` is what goes into JSON (records.py); a pickle (a checkpoint's
strategy state) holds the plain list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableSequence
from typing import Any, overload


class Reasons(MutableSequence[str]):
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

    def __setitem__(self, i: Any, value: Any) -> None:
        self.words()[i] = value

    def __delitem__(self, i: int | slice) -> None:
        del self.words()[i]

    def insert(self, index: int, value: str) -> None:
        self.words().insert(index, value)

    def __add__(self, other: Iterable[str]) -> list[str]:
        return self.words() + list(other)

    def __radd__(self, other: Iterable[str]) -> list[str]:
        return list(other) + self.words()

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
