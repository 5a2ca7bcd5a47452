"""Binance error codes in words a trader understands, and the exception the desk raises.

Codes and messages: Binance USDT-M "Error Codes" page
(https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code).
"""

from __future__ import annotations

EXPLANATIONS: dict[int, str] = {
    -1003: "too many requests: Binance's rate limit was hit; the desk is backing off",
    -1021: "the request's timestamp fell outside the receive window (clock drift); "
           "the desk re-synced its clock with the server",
    -1022: "the signature was rejected: the secret in the keyring does not belong to this key",
    -1111: "the price or quantity has more decimals than the symbol allows",
    -1121: "the symbol is not traded on this venue",
    -1125: "the user-data listenKey no longer exists; the desk opens a new stream",
    -2011: "the cancel was refused: the order is no longer open (filled or already canceled)",
    -2013: "no such order on the exchange",
    -2014: "the API key is malformed",
    -2015: "the API key was refused: wrong key, IP not whitelisted, or futures trading "
           "permission missing",
    -2019: "margin is insufficient: the wallet cannot cover the initial margin at this leverage",
    -2021: "the stop or take-profit would trigger immediately: price is already beyond it",
    -2022: "the reduce-only order was rejected: there is no position on that side to reduce "
           "(already flat?)",
    -4003: "the quantity is zero or negative",
    -4004: "the quantity is below the symbol's minimum",
    -4005: "the quantity is above the symbol's maximum",
    -4014: "the price is not a multiple of the tick size",
    -4015: "the client order id is invalid or already in use",
    -4028: "that leverage is not allowed for this symbol",
    -4046: "the margin type was already set (nothing to change)",
    -4048: "the margin type cannot change while a position or open order exists",
    -4059: "the position mode was already set (nothing to change)",
    -4120: "this order type must go through the Algo Order service",
    -4164: "the order's notional value is below the symbol's minimum",
}


class VenueError(Exception):
    """A failed exchange call. ``unknown_outcome`` means the request may have been applied
    (5xx, timeout, dropped connection): look the order up before sending anything again."""

    def __init__(self, text: str, code: int = 0, status: int = 0,
                 unknown_outcome: bool = False, retry_after: float | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.status = status
        self.unknown_outcome = unknown_outcome
        self.retry_after = retry_after


def explain(code: int, message: str) -> str:
    """``-2019 Margin is insufficient.`` → a sentence with the code kept for searching."""
    words = EXPLANATIONS.get(code)
    if words:
        return f"{words} (Binance {code}: {message})"
    return f"Binance {code}: {message}" if code else message
