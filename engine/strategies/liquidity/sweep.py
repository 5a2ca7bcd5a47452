"""A sweep, and where its stop and target go. Pure functions: bars and pools in, verdicts out.

A sweep is a wick through resting liquidity that *closes back inside*: the stops were
taken and the move failed, so we trade the failed breakout. A close beyond the pool is a
break (no trade); a wick too deep is a real move that happened to come back (no trade).
"""

from __future__ import annotations

from collections.abc import Callable

from tapedesk.engine.events import Side
from tapedesk.engine.strategies.liquidity.pools import Pool
from tapedesk.engine.strategies.wording import pct, price

# Which pool names the sweep in the note when one bar takes several: the most watched one.
_RANK = ("prior-day", "Asia", "London", "New York", "equal", "swing")


# Labels are few (sessions, prior day, swings, equal highs/lows): each is ranked once.
_RANK_OF: dict[str, int] = {}


def _rank(pool: Pool) -> int:
    label = pool.label
    rank = _RANK_OF.get(label)
    if rank is None:
        rank = len(_RANK)
        for i, prefix in enumerate(_RANK):
            if label.startswith(prefix):
                rank = i
                break
        if len(_RANK_OF) < 256:  # bounded, whatever labels a caller invents
            _RANK_OF[label] = rank
    return rank


class Sweep:
    """A reclaimed sweep: trade ``side``; ``level`` is the pool the close got back over.

    When one bar takes several pools, the most watched one (prior day, then sessions,
    equal highs/lows, swings) names the sweep and is the level the close must reclaim;
    lesser levels in between do not veto it.
    """

    __slots__ = ("depth", "extreme", "level", "pool", "pools", "side")

    def __init__(
        self, side: Side, pools: list[Pool], level: float, extreme: float, pool: Pool | None = None
    ) -> None:
        self.side = side
        self.pools = pools
        # ``pool``: min(pools, key=_rank) when the caller has it already
        self.pool = min(pools, key=_rank) if pool is None else pool
        self.level = level
        self.extreme = extreme
        # how far past the level that names the sweep (the one traders watch) the wick ran
        self.depth = abs(extreme - self.pool.price) / self.pool.price

    def describe(self) -> str:
        p = self.pool
        where = "above" if self.side is Side.LONG else "below"
        depth = abs(self.extreme - p.price) / p.price
        text = f"Swept {p.label} {price(p.price)} by {pct(depth)}, closed back {where}"
        others = [q for q in self.pools if q is not p]
        if others:
            text += " (also took " + ", ".join(f"{q.label} {price(q.price)}" for q in others) + ")"
        return text


def judge_sweep(
    high: float,
    low: float,
    close: float,
    taken_highs: list[Pool],
    taken_lows: list[Pool],
    max_depth: float,
) -> tuple[Sweep | None, Callable[..., str] | None, tuple]:
    """Judge a bar that traded through pools: (sweep, None, ()) or (None, word, args), the
    why-not worded as ``word(*args)`` when read (a skip note: a backtest reads few). The
    pools are out of the map for good: never changed."""
    if taken_highs and taken_lows:
        return None, _both_sides, (high, low)
    if taken_lows:
        outer = min(taken_lows, key=_rank)
        if close <= outer.price:
            return None, _a_break, (close, "below", outer)
        sweep = Sweep(Side.LONG, taken_lows, outer.price, low, outer)
    elif taken_highs:
        outer = min(taken_highs, key=_rank)
        if close >= outer.price:
            return None, _a_break, (close, "above", outer)
        sweep = Sweep(Side.SHORT, taken_highs, outer.price, high, outer)
    else:
        return None, None, ()
    if sweep.depth > max_depth:
        return None, _too_deep, (sweep, max_depth)
    return sweep, None, ()


def _both_sides(high: float, low: float) -> str:
    return f"Bar ran both sides (high {price(high)}, low {price(low)}): no clean sweep to fade"


def _a_break(close: float, where: str, outer: Pool) -> str:
    return f"Closed {price(close)} {where} {outer.label} {price(outer.price)}: a break, not a sweep"


def _too_deep(sweep: Sweep, max_depth: float) -> str:
    return (f"{sweep.describe()}, but {pct(sweep.depth)} deep (over {pct(max_depth)}): "
            "a real move that came back, not a stop run")


def stop_for(
    side: Side,
    entry: float,
    extreme: float,
    body_edge: float,
    band_min: float,
    band_max: float,
    buffer: float,
) -> tuple[float | None, Callable[..., str], tuple]:
    """Stop at the sweep wick's midpoint, else just beyond the wick, kept in the band.
    ``body_edge`` is the candle body's end the wick hangs from (min(open, close) for a
    long). Returns (stop, word, args), or (None, word, args) when there is no trade: the
    sentence is ``word(*args)``, worded when read (a no-trade one is a skip note)."""
    s = side.sign
    mid = (extreme + body_edge) / 2.0
    d_mid = s * (entry - mid) / entry
    if band_min <= d_mid <= band_max:
        return mid, _at_midpoint, (mid, d_mid)
    if d_mid > band_max:
        return None, _beyond_cap, (mid, d_mid, band_max)
    beyond = extreme * (1.0 - s * buffer)
    d_beyond = s * (entry - beyond) / entry
    word = "low" if side is Side.LONG else "high"
    if band_min <= d_beyond <= band_max:
        return beyond, _beyond_wick, (word, beyond, d_beyond)
    if d_beyond < band_min:
        stop = entry * (1.0 - s * band_min)
        return stop, _widened, (band_min, stop, word)
    stop = entry * (1.0 - s * band_max)
    return stop, _at_cap, (band_max, stop, mid)


def _at_midpoint(mid: float, d_mid: float) -> str:
    return f"stop at wick midpoint {price(mid)} ({pct(d_mid)})"


def _beyond_cap(mid: float, d_mid: float, band_max: float) -> str:
    return (f"wick midpoint {price(mid)} is {pct(d_mid)} away, beyond the {pct(band_max)} cap: "
            "no trade")


def _beyond_wick(word: str, beyond: float, d_beyond: float) -> str:
    return f"stop beyond the sweep {word} at {price(beyond)} ({pct(d_beyond)})"


def _widened(band_min: float, stop: float, word: str) -> str:
    return f"stop widened to the {pct(band_min)} floor at {price(stop)}, beyond the sweep {word}"


def _at_cap(band_max: float, stop: float, mid: float) -> str:
    return f"stop at the {pct(band_max)} cap {price(stop)}, past the wick midpoint {price(mid)}"


def pick_target(
    side: Side,
    entry: float,
    stop: float,
    opposite: list[Pool],
    r_multiple: float,
    min_r: float,
) -> tuple[float, str]:
    """Target the nearest opposite pool at least ``min_r`` R away, else ``r_multiple`` R."""
    tp, word, args = target_for(side, entry, stop, opposite, r_multiple, min_r)
    return tp, word(*args)


def target_for(
    side: Side,
    entry: float,
    stop: float,
    opposite: list[Pool],
    r_multiple: float,
    min_r: float,
) -> tuple[float, Callable[..., str], tuple]:
    """``pick_target`` with its sentence kept as (word, args), worded when read (a signal's
    reasons: engine/reasons.py). ``best``'s label is read now: the pool stays in the map."""
    s = side.sign
    risk = abs(entry - stop)
    best: Pool | None = None
    for p in opposite:
        dist = s * (p.price - entry)
        if dist >= min_r * risk and (
            best is None
            or s * (best.price - p.price) > 0
            or (best.price == p.price and _rank(p) < _rank(best))
        ):
            best = p
    if best is not None and risk > 0:
        r = s * (best.price - entry) / risk
        return best.price, _to_pool, (best.label, best.price, r)
    tp = entry + s * r_multiple * risk
    return tp, _by_r, (r_multiple, tp, min_r)


def _to_pool(label: str, tp: float, r: float) -> str:
    return f"target {label} {price(tp)} ({r:.1f}R)"


def _by_r(r_multiple: float, tp: float, min_r: float) -> str:
    return f"target {r_multiple:g}R at {price(tp)} (no opposite pool ≥ {min_r:g}R)"
