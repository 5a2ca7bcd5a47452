"""Binance error codes in words a trader understands, and the exception the desk raises.

Codes and messages: Binance USDT-M "Error Codes" page
(https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code).
"""

from __future__ import annotations

EXPLANATIONS: dict[int, str] = {
    -1003: "too many requests: Binance's rate limit was hit; the desk is backing off",
    -1006: "Binance's matching engine gave an unexpected answer: the order may or may not "
           "have been placed",
    -1007: "Binance timed out waiting for its matching engine: the order may or may not have "
           "been placed",
    -1008: "Binance is overloaded and refused the request (reduce-only orders are exempt)",
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
    -2027: "the position would exceed the maximum allowed at this leverage (leverage bracket)",
    -2028: "the leverage is too high for the margin in the wallet",
    -4003: "the quantity is zero or negative",
    -4004: "the quantity is below the symbol's minimum",
    -4005: "the quantity is above the symbol's maximum",
    -4014: "the price is not a multiple of the tick size",
    -4015: "the client order id is invalid or already in use",
    -4028: "that leverage is not allowed for this symbol",
    -4046: "the margin type was already set (nothing to change)",
    -4048: "the margin type cannot change while a position or open order exists",
    -4059: "the position mode was already set (nothing to change)",
    -4045: "the symbol already has the maximum number of stop orders Binance allows",
    -4116: "the client order id is already in use",
    -4118: "the reduce-only order would exceed the open position (other reduce-only orders "
           "already cover it)",
    -4120: "this order type must go through the Algo Order service: the desk sent it to the "
           "wrong endpoint (a bug in the desk; nothing was placed)",
    -4131: "the market order would fill too far from the mark price (Binance's price "
           "protection; the book is thin)",
    -4164: "the order's notional value is below the symbol's minimum",
}


# An order look-up answering this proves nothing right after a placement: Binance shows a
# just-accepted order in look-ups only after a delay.
NOT_FOUND = (-2013,)
# A re-send under the same client id answered with these: the first send did arrive.
DUPLICATE_ID = (-4015, -4116)
# Binance's own "execution status unknown" codes (Error Codes page, 10xx).
UNKNOWN_OUTCOME = (-1006, -1007)


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
