"""A BinanceVenue with no network: REST answers scripted per method, user-stream messages fed
by hand in the shapes Binance documents (ORDER_TRADE_UPDATE, ALGO_UPDATE, ACCOUNT_UPDATE)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tapedesk.engine.binance.endpoints import resolve
from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.binance.settings import LiveSettings
from tapedesk.engine.binance.venue import BinanceVenue
from tapedesk.engine.symbols import SymbolSpec

from tests.live.conftest import RecordingSink

FAST = LiveSettings(lookup_delay=0.02, lookup_max_delay=0.05, unknown_window_s=0.3,
                    resend_after_s=0.1, orphan_wait_s=0.1, catch_up_wait_s=0.05)


class _Limits:
    weight_used = 0


class FakeGate:
    """``answers[method]`` is a value, a callable(params) -> value, or a VenueError to raise."""

    def __init__(self) -> None:
        self.client = object()
        self.limits = _Limits()
        self.answers: dict[str, Any] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _server_ms(self) -> int:
        return 1_700_000_000_000

    async def call(self, method: str, *, weight: int = 1, order: bool = False,
                   retry_429: bool = True, **params: Any) -> Any:
        self.calls.append((method, params))
        answer = self.answers.get(method)
        if answer is None:
            raise VenueError(f"{method} not scripted", code=-1000)
        if callable(answer):
            answer = answer(params)
        if isinstance(answer, VenueError):
            raise answer
        return answer

    def count(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)


def make_venue(settings: LiveSettings | None = None) -> tuple[BinanceVenue, FakeGate,
                                                               RecordingSink]:
    gate = FakeGate()
    venue = BinanceVenue(gate, resolve(rest_url="http://127.0.0.1:1/fapi"), ["BTCUSDT"],  # type: ignore[arg-type]
                         settings or LiveSettings(**vars(FAST)))
    venue.specs["BTCUSDT"] = SymbolSpec("BTCUSDT", Decimal("0.1"), Decimal("0.001"),
                                        Decimal("0.001"), Decimal("100"))
    sink = RecordingSink()
    venue.bind(sink)
    return venue, gate, sink


def order_update(c: str, i: int, x: str, X: str, *, q: str = "0.005", z: str = "0",
                 l: str = "0", L: str = "0", n: str = "0", t: int = 0, ap: str = "0",  # noqa: E741
                 S: str = "BUY", ot: str = "MARKET", N: str = "USDT",
                 m: bool = False) -> dict[str, Any]:
    """An ORDER_TRADE_UPDATE as Binance USDT-M sends it (fields per its Event: Order Update)."""
    return {"e": "ORDER_TRADE_UPDATE", "E": 1_700_000_000_100, "T": 1_700_000_000_099,
            "o": {"s": "BTCUSDT", "c": c, "S": S, "o": "MARKET", "f": "GTC", "q": q, "p": "0",
                  "ap": ap, "sp": "0", "x": x, "X": X, "i": i, "l": l, "z": z, "L": L,
                  "N": N, "n": n, "T": 1_700_000_000_099, "t": t, "b": "0", "a": "0", "m": m,
                  "R": False, "wt": "CONTRACT_PRICE", "ot": ot, "ps": "BOTH", "cp": False,
                  "rp": "0", "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE",
                  "gtd": 0}}


def algo_update(caid: str, aid: int, X: str, ai: str = "", rm: str = "",
                o: str = "STOP_MARKET") -> dict[str, Any]:
    """An ALGO_UPDATE as in Binance's Event: Algo Order Update."""
    msg = {"e": "ALGO_UPDATE", "T": 1_700_000_000_200, "E": 1_700_000_000_201,
           "o": {"caid": caid, "aid": aid, "at": "CONDITIONAL", "o": o, "s": "BTCUSDT",
                 "S": "SELL", "ps": "BOTH", "f": "GTC", "q": "0.005", "X": X, "ai": ai,
                 "ap": "0", "aq": "0", "act": "0", "tp": "59800", "p": "0",
                 "V": "EXPIRE_MAKER", "wt": "MARK_PRICE", "pm": "NONE", "cp": False,
                 "pP": False, "R": True, "tt": 0, "gtd": 0}}
    if rm:
        msg["o"]["rm"] = rm
    return msg


def trade_row(tid: int, order_id: int, qty: str, price: str, fee: str,
              side: str = "BUY") -> dict[str, Any]:
    """One row of /fapi/v1/userTrades."""
    return {"symbol": "BTCUSDT", "id": tid, "orderId": order_id, "side": side, "price": price,
            "qty": qty, "realizedPnl": "0", "quoteQty": str(Decimal(qty) * Decimal(price)),
            "commission": fee, "commissionAsset": "USDT", "time": 1_700_000_000_050,
            "positionSide": "BOTH", "buyer": side == "BUY", "maker": False}


def order_row(cid: str, order_id: int, status: str, executed: str, avg: str = "0",
              qty: str = "0.005") -> dict[str, Any]:
    return {"orderId": order_id, "symbol": "BTCUSDT", "status": status, "clientOrderId": cid,
            "price": "0", "avgPrice": avg, "origQty": qty, "executedQty": executed,
            "type": "MARKET", "side": "BUY", "reduceOnly": False, "time": 1, "updateTime": 1}


Answer = Callable[[dict[str, Any]], Any]
