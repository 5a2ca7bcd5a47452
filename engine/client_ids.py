"""The desk's client order ids: ``td-<token>-<role letter>``.

One format for the order owner that makes them and the Binance venue that reads them back:
Binance allows ``[.A-Z:/a-z0-9_-]{1,36}``, and the role letter lets a restarted desk tell an
exchange order's purpose (reconciliation), even for orders its journal never saw.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from tapedesk.engine.events import OrderRole

_ROLE_CODES = {OrderRole.ENTRY: "e", OrderRole.STOP: "s", OrderRole.TAKE_PROFIT: "t",
               OrderRole.EXIT: "x", OrderRole.FLATTEN: "f", OrderRole.LIQUIDATION: "l"}
_CODE_ROLES = {v: k for k, v in _ROLE_CODES.items()}


def client_order_id(token: str, role: OrderRole) -> str:
    cid = f"td-{token}-{_ROLE_CODES.get(role, 'x')}"
    if len(cid) > 36:
        raise ValueError(f"client order id too long: {cid}")
    return cid


def client_id_maker(prefix: str) -> Callable[[OrderRole], str]:
    """Fresh ids ``client_order_id(f"{prefix}{n}", role)`` for n = 1, 2, ...: the order owner
    takes one per order it sends, so the format is put together once, not per id."""
    numbers = itertools.count(1)
    head = f"td-{prefix}"
    tails = {role: f"-{code}" for role, code in _ROLE_CODES.items()}
    # Every tail is two characters: an id is too long exactly when n has more digits than
    # this leaves (an int comparison, not len() of every id).
    limit = 10 ** max(36 - len(head) - 2, 0)

    def make(role: OrderRole) -> str:
        n = next(numbers)
        try:  # no .get() call: every role has its letter
            cid = f"{head}{n}{tails[role]}"
        except KeyError:
            cid = f"{head}{n}-x"
        if n >= limit:
            raise ValueError(f"client order id too long: {cid}")
        return cid

    return make


def role_from_client_id(client_id: str) -> OrderRole | None:
    """The role a desk-made client id carries; None for an order the desk did not make."""
    if not client_id.startswith("td-"):
        return None
    return _CODE_ROLES.get(client_id.rsplit("-", 1)[-1])
