"""Every REST request the exchange received, for tests to assert on: "no POST was sent",
"no entry was sent twice", "the stop was re-sent after -2021".

Each entry unpacks as ``(method, path, params)`` (params without ``signature``) and also
carries ``at`` (time.monotonic()), ``status`` and ``code`` (the Binance error code, 0 when
the request succeeded) once answered.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

ORDER = "/fapi/v1/order"
ALGO = "/fapi/v1/algoOrder"


class Request(tuple):
    """``(method, path, params)`` with the answer's status and error code attached."""

    def __new__(cls, method: str, path: str, params: dict[str, str]) -> Request:
        self = super().__new__(cls, (method, path, params))
        self.at = time.monotonic()
        self.status = 0
        self.code = 0
        return self

    @property
    def method(self) -> str:
        return self[0]

    @property
    def path(self) -> str:
        return self[1]

    @property
    def params(self) -> dict[str, str]:
        return self[2]

    @property
    def client_id(self) -> str:
        return self.params.get("newClientOrderId") or self.params.get("clientAlgoId") or ""

    @property
    def reduces(self) -> bool:
        """Cannot add exposure: reduce-only or closePosition."""
        p = self.params
        return "true" in (p.get("reduceOnly", "").lower(), p.get("closePosition", "").lower())

    def json(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "params": self.params,
                "status": self.status, "code": self.code, "at": self.at}


class RequestLog(list[Request]):
    def add(self, method: str, path: str, params: dict[str, str]) -> Request:
        clean = {k: v for k, v in params.items() if k != "signature"}
        req = Request(method, path, clean)
        self.append(req)
        return req

    def count_of(self, method: str, path: str) -> int:
        return sum(1 for r in self if r.method == method and r.path == path)

    def posts(self, path: str = ORDER) -> list[Request]:
        return [r for r in self if r.method == "POST" and r.path == path]

    def order_posts(self) -> list[Request]:
        """Every order sent: regular and algo, in the order they arrived."""
        return [r for r in self if r.method == "POST" and r.path in (ORDER, ALGO)]

    def sent_twice(self, adding_only: bool = True) -> list[str]:
        """Client ids POSTed more than once (only orders that could add exposure unless
        ``adding_only`` is False), whether or not the first reached the book: after a 5xx or
        a timeout the client cannot know, so an entry must never be sent twice."""
        ids = Counter(r.client_id for r in self.order_posts()
                      if r.client_id and (not adding_only or not r.reduces))
        return sorted(cid for cid, n in ids.items() if n > 1)

    def entries_accepted(self) -> list[Request]:
        """POSTs of orders that could add exposure which the exchange accepted."""
        return [r for r in self.posts(ORDER) if not r.reduces and r.status == 200]

    def rejected(self, code: int) -> list[Request]:
        return [r for r in self if r.code == code]
