"""Where the desk talks to: production, testnet, demo-trading, or URLs from the config (a local exchange).

python-binance keeps its base URLs as plain attributes (see ../shared/BINANCE.md), so one
function sets them on a client and a socket manager; nothing else in the desk names a host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

PRODUCTION_REST = "https://fapi.binance.com/fapi"
PRODUCTION_WS = "wss://fstream.binance.com/"
TESTNET_REST = "https://testnet.binancefuture.com/fapi"
TESTNET_WS = "wss://fstream.binancefuture.com/"
DEMO_REST = "https://demo-fapi.binance.com/fapi"
DEMO_WS = "wss://fstream.binancefuture.com/"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """REST base (ends in ``/fapi``) and websocket base (ends in ``/``; the library appends
    ``market/``, ``public/`` and ``private/``)."""

    name: str
    rest_url: str
    ws_url: str

    @property
    def is_loopback(self) -> bool:
        host = urlparse(self.rest_url).hostname or ""
        return host in ("127.0.0.1", "localhost", "::1")

    @property
    def real_money(self) -> bool:
        return self.name == "production"


def resolve(testnet: bool = False, demo_trading: bool = False, rest_url: str | None = None,
            ws_url: str | None = None) -> Endpoints:
    """``--testnet`` / ``--demo-trading`` pick Binance's test environments; explicit URLs win
    over both."""
    if testnet and demo_trading:
        raise ValueError("choose --testnet or --demo-trading, not both")
    if testnet:
        name, rest, ws = "testnet", TESTNET_REST, TESTNET_WS
    elif demo_trading:
        name, rest, ws = "demo-trading", DEMO_REST, DEMO_WS
    else:
        name, rest, ws = "production", PRODUCTION_REST, PRODUCTION_WS
    if rest_url or ws_url:
        name = "custom" if name == "production" else name
    rest = (rest_url or rest).rstrip("/")
    ws = ws_url or ws
    if not ws.endswith("/"):
        ws += "/"
    return Endpoints(name, rest, ws)


def apply_to_client(client: Any, ep: Endpoints) -> None:
    """Point every USDT-M REST base the client might read at ``ep`` (testnet/demo-trading flags
    make python-binance read a different attribute, so all three are set)."""
    client.FUTURES_URL = ep.rest_url
    client.FUTURES_TESTNET_URL = ep.rest_url
    client.FUTURES_DEMO_URL = ep.rest_url


def apply_to_socket_manager(bsm: Any, ep: Endpoints) -> None:
    bsm.FSTREAM_URL = ep.ws_url
    bsm.FSTREAM_TESTNET_URL = ep.ws_url
    bsm.FSTREAM_DEMO_URL = ep.ws_url
    if ep.is_loopback:
        # websockets would otherwise honour *_PROXY variables even for 127.0.0.1.
        bsm.ws_kwargs["proxy"] = None
