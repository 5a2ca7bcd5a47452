"""Tunables of the live Binance venue: stream upkeep, look-ups after an unknown outcome,
and the emergency stop's polling. Defaults suit production; tests shorten the waits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LiveSettings:
    max_leverage: int = 5
    working_type: str = "MARK_PRICE"  # what triggers stops: mark price resists wicks
    keepalive_s: float = 30 * 60  # listenKey keepalive (valid 60 min after each keepalive)
    ping_interval: float = 20.0
    max_queue_size: int = 2000
    user_max_age: float | None = 23.5 * 3600
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    # After a 5xx/timeout on placement: look the order up by client id (first after
    # ``lookup_delay``, doubling up to ``lookup_max_delay``) and watch the user stream for
    # ``unknown_window_s`` before declaring an order that never appeared "not found". Binance
    # can show a just-accepted order in look-ups only after a delay, so an early -2013 proves
    # nothing: an entry is never re-sent; a reduce-only / closePosition order (cannot add
    # exposure) is re-sent under the same client id after ``resend_after_s``.
    unknown_window_s: float = 30.0
    lookup_delay: float = 0.5
    lookup_max_delay: float = 5.0
    resend_after_s: float = 1.0
    max_resends: int = 2
    # The order a triggered algo order spawns may report before the ALGO_UPDATE naming it:
    # hold such updates this long, then ask the Algo service which order spawned it.
    orphan_wait_s: float = 1.5
    # Fills the stream should bring; after this long, fetch them over REST (userTrades).
    catch_up_wait_s: float = 1.0
    flat_poll_s: float = 0.5
    flat_rounds: int = 40
    # Write-ahead: an order goes out once the journal holds its intent (a commit, ~4 ms with
    # fsync). A reduce-only one (a stop, a close, the emergency stop's) waits at most this
    # long: protection never waits for a journal in trouble.
    write_ahead_wait_s: float = 0.5
