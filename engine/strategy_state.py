"""Strategies' own state, saved with every journal checkpoint so a resume equals a run.

Why the checkpoint carries strategy state instead of re-feeding history on resume:
re-feeding (the old ``_warm``) can never reproduce what a strategy saw the first time. The
engine does not ask strategies while the day is locked, the desk paused or halted or the
data stale, and strategies read the position book (``ctx.position``) as they go — during a
warm-up the book holds the checkpoint's positions, not the historical ones, so a sweep that
was "already in a position" the first time becomes a signal (and a cooldown) the second.
Feeding strategies every event even while gated (and discarding their signals) would fix
the first cause only, would change what "not even asked" means (DESIGN.md), and would cost
the hot path a check per strategy call. A snapshot taken at the same instant as the
journal's feed cursor and venue state is exact by construction, costs nothing per event
(only per commit, and backtests have no journal), and makes resume instant.

The state is each strategy's ``__dict__`` pickled with the engine, venue and clock replaced
by references (``persistent_id``), so a strategy's ``ctx`` points at the new engine after a
restore. The blob lives in the owner-only journal (0600, in a 0700 directory) and is only
read back from there; anyone able to write it could already change the desk's own files.
A strategy that cannot be pickled, or whose class changed so the blob no longer loads,
falls back to the old warm-up replay, and the explanation log says so.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

_REFS = ("engine", "venue", "clock")


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, refs: dict[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._refs = refs

    def persistent_id(self, obj: Any) -> str | None:
        return self._refs.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, objs: dict[str, Any]) -> None:
        super().__init__(file)
        self._objs = objs

    def persistent_load(self, pid: Any) -> Any:
        return self._objs[pid]


def _context(engine: Any) -> dict[str, Any]:
    return {"engine": engine, "venue": engine.venue, "clock": engine.clock}


def dump(engine: Any) -> bytes | None:
    """All strategies' state as one blob: {name: pickled __dict__ or None if unpicklable}."""
    if not engine.strategies:
        return None
    refs = {id(obj): name for name, obj in _context(engine).items()}
    states: dict[str, tuple[str, bytes] | None] = {}
    for s in engine.strategies:
        buf = io.BytesIO()
        try:
            _Pickler(buf, refs).dump(vars(s))
        except Exception:  # a plugin holding a socket, a lambda, ...: it warms up instead
            states[s.name] = None
            continue
        states[s.name] = (fingerprint(s), buf.getvalue())
    return pickle.dumps(states, protocol=pickle.HIGHEST_PROTOCOL)


def fingerprint(s: Any) -> str:
    """Class, parameters and symbols: state saved under other settings is not restored."""
    cls = type(s)
    params = sorted((k, repr(v)) for k, v in (getattr(s, "params", None) or {}).items())
    return f"{cls.__module__}.{cls.__qualname__}|{params}|{getattr(s, 'symbols', None)}"


def load(engine: Any, blob: bytes | None) -> tuple[set[str], list[str]]:
    """Restore what the blob holds; returns (names restored, names that must warm up)."""
    if not blob:
        return set(), [s.name for s in engine.strategies]
    try:
        states = pickle.loads(blob)
    except Exception:
        return set(), [s.name for s in engine.strategies]
    objs = _context(engine)
    restored: set[str] = set()
    cold: list[str] = []
    for s in engine.strategies:
        saved = states.get(s.name)
        if saved is None or saved[0] != fingerprint(s):
            cold.append(s.name)
            continue
        try:
            state = _Unpickler(io.BytesIO(saved[1]), objs).load()
            vars(s).update(state)
        except Exception:
            cold.append(s.name)
            continue
        restored.add(s.name)
    return restored, cold


def resume(engine: Any, ck: dict[str, Any]) -> tuple[int, dict[int, list[Any]], str]:
    """A replay's resume point: (events already journaled, handlers that must still warm
    up, a note for the explanation log or ""). Live data missed while the desk was down
    cannot be replayed, so the engine calls this for replays only."""
    pos = int(ck["engine_state"].get("feed_pos", -1))
    restored, cold = load(engine, ck.get("strategy_state"))
    handlers = {
        kind: [h for h in hs if h[0].name not in restored] for kind, hs in engine._handlers.items()
    }
    note = ""
    if cold:
        note = (
            f"Strategy state not in the journal for {', '.join(cold)}: warmed up by replaying "
            "the journaled events (their indicators may differ from an uninterrupted run)."
        )
    return pos, handlers, note
