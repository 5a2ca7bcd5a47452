"""Going live: from config and keyring credentials to a started ``BinanceVenue``, with the
user's typed confirmation in between, and the public market feed for paper mode.

Order of events in ``prepare_live`` (nothing on the account changes before step 3):
1. read-only checks: server time, account (can trade), position mode, wallet, positions;
2. show them and ask the user to type the symbol(s) to confirm;
3. start the venue: ISOLATED margin and leverage ≤ the cap per symbol, user-data stream.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tapedesk.engine.binance.endpoints import Endpoints, resolve
from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.binance.market_feed import BinanceMarketFeed
from tapedesk.engine.binance.rest import DeskClient, RestGate, make_client
from tapedesk.engine.binance.venue import BinanceVenue, LiveSettings
from tapedesk.engine.events import MarketEvent
from tapedesk.engine.snapshot import FeedStatus

_ENV_FOR = {"production": "live", "testnet": "testnet", "demo": "demo"}


class LiveAborted(Exception):
    """The user did not confirm, or the account cannot trade as the desk needs."""


def endpoints_for(binance_cfg: Any, testnet: bool | None = None,
                  demo: bool | None = None) -> Endpoints:
    """``--testnet``/``--demo`` flags win over the config file's; URL overrides win over both."""
    return resolve(
        testnet=binance_cfg.testnet if testnet is None else testnet,
        demo=binance_cfg.demo if demo is None else demo,
        rest_url=binance_cfg.rest_url, ws_url=binance_cfg.ws_url)


def client_for(credentials: Any | None, endpoints: Endpoints,
               recv_window_ms: int = 5000) -> DeskClient:
    """A client for ``credentials`` (``engine.keys.Credentials``) or none (public data)."""
    kw = credentials.client_kwargs() if credentials is not None else {}
    return make_client(endpoints, recv_window_ms=recv_window_ms, **kw)


def keys_verifier(endpoints: Endpoints, recv_window_ms: int = 5000) -> Any:
    """The ``verify`` for ``tapedesk keys check``: asks the account through this package's
    client, and never the spot API when the URLs are overridden (a local exchange)."""
    from tapedesk.engine.keys_cli import binance_verifier

    return binance_verifier(lambda creds: client_for(creds, endpoints, recv_window_ms),
                            ask_api_restrictions=endpoints.name != "custom")


def paper_feed(endpoints: Endpoints, symbols: list[str],
               on_event: Callable[[MarketEvent], None],
               on_status: Callable[[FeedStatus, str], None] | None = None,
               stale_after: float = 10.0) -> BinanceMarketFeed:
    """Binance's public futures streams for paper mode: no keys involved."""
    return BinanceMarketFeed(client_for(None, endpoints), endpoints, symbols, on_event,
                             on_status, stale_after=stale_after,
                             restart_after=max(30.0, 3 * stale_after))


async def account_summary(gate: RestGate, endpoints: Endpoints, masked_key: str,
                          symbols: list[str], max_leverage: int) -> list[str]:
    """Read-only: what the user is about to trade with."""
    await gate.sync_time()
    account = await gate.call("futures_account", weight=5)
    mode = await gate.call("futures_get_position_mode", weight=30)
    if not account.get("canTrade"):
        raise LiveAborted("this API key cannot trade futures (canTrade is false): enable "
                          "futures trading for the key on Binance")
    if mode.get("dualSidePosition") in (True, "true"):
        raise LiveAborted("the account is in hedge mode; Tapedesk trades one-way mode only "
                          "(Binance futures settings → Position Mode)")
    wallet = Decimal(str(account.get("totalWalletBalance", "0")))
    available = Decimal(str(account.get("availableBalance", "0")))
    held = [p for p in account.get("positions", []) if Decimal(str(p.get("positionAmt", 0)))]
    where = {"production": "LIVE: REAL MONEY on Binance USDT-M",
             "testnet": "Binance futures TESTNET (no real money)",
             "demo": "Binance DEMO trading (no real money)"}.get(
                 endpoints.name, f"custom endpoint {endpoints.rest_url}")
    lines = [
        where,
        f"API key {masked_key}",
        f"wallet {wallet:,.2f} USDT, available {available:,.2f} USDT",
        f"symbols {', '.join(symbols)}: ISOLATED margin, leverage at most {max_leverage}x",
        "open positions: " + (", ".join(f"{p['symbol']} {p['positionAmt']}" for p in held)
                              if held else "none"),
    ]
    return lines


async def prepare_live(config: Any, credentials: Any, confirm: Callable[[str], str],
                       say: Callable[[str], None] = print, testnet: bool | None = None,
                       demo: bool | None = None,
                       settings: LiveSettings | None = None) -> BinanceVenue:
    """Checks, confirmation, then a started venue. ``confirm(prompt)`` returns what the user
    typed; anything but the symbol list (case-insensitive) aborts with nothing sent."""
    if credentials is None:
        raise LiveAborted("live trading needs API keys: run `tapedesk keys set` first "
                          "(paper mode needs none)")
    endpoints = endpoints_for(config.binance, testnet, demo)
    wanted_env = _ENV_FOR.get(endpoints.name)
    if wanted_env and credentials.environment != wanted_env:
        raise LiveAborted(f"these are {credentials.environment} keys but the desk points at "
                          f"{endpoints.name}: use `tapedesk keys set --{wanted_env}` keys")
    symbols = list(config.symbols)
    settings = settings or LiveSettings(max_leverage=config.risk.max_leverage)
    client = client_for(credentials, endpoints, config.binance.recv_window_ms)
    gate = RestGate(client)
    try:
        for line in await account_summary(gate, endpoints, credentials.masked_key, symbols,
                                           settings.max_leverage):
            say(line)
        expected = " ".join(symbols)
        answer = confirm(f"Type {expected} to trade with this account (anything else quits): ")
        if " ".join(answer.upper().split()) != expected:
            raise LiveAborted("not confirmed: nothing was sent to the exchange")
        venue = BinanceVenue(gate, endpoints, symbols, settings)
        await venue.start()
    except (LiveAborted, VenueError):
        await client.close_connection()
        raise
    return venue
