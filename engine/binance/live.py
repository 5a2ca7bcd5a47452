"""Going live: from config and keyring credentials to a set-up ``BinanceVenue``, with the
user's typed confirmation in between, and the public market feed for paper mode.

Order of events in ``prepare_live`` (nothing on the account changes before step 3):
1. read-only checks (``startup.check_account``): keys, account, one-way position mode,
   Multi-Assets mode off, symbols trading, margin type and leverage, positions;
2. show them and ask the user to type the symbol(s) to confirm;
3. ISOLATED margin and leverage on flat symbols (``startup.apply_account_setup``);
4. later, ``Engine.start`` → ``venue.start()``: the user-data stream (one listenKey).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from tapedesk.engine.binance.endpoints import Endpoints, resolve
from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.binance.market_feed import BinanceMarketFeed
from tapedesk.engine.binance.rest import DeskClient, RestGate, make_client
from tapedesk.engine.binance.startup import LiveAborted, check_account
from tapedesk.engine.binance.venue import BinanceVenue, LiveSettings
from tapedesk.engine.events import MarketEvent
from tapedesk.engine.snapshot import FeedStatus

_ENV_FOR = {"production": "live", "testnet": "testnet", "demo": "demo"}

Confirm = Callable[[str], "str | Awaitable[str]"]


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
               stale_after: float = 10.0, depth: bool = False) -> BinanceMarketFeed:
    """Binance's public futures streams (paper and live: no keys involved); ``depth`` adds
    the diff-depth stream with its local-book synchronisation."""
    return BinanceMarketFeed(client_for(None, endpoints), endpoints, symbols, on_event,
                             on_status, stale_after=stale_after,
                             restart_after=max(30.0, 3 * stale_after), depth=depth)


async def prepare_live(config: Any, credentials: Any, confirm: Confirm,
                       say: Callable[[str], None] = print, testnet: bool | None = None,
                       demo: bool | None = None,
                       settings: LiveSettings | None = None) -> BinanceVenue:
    """Checks, confirmation, account set-up; returns a venue whose ``start()`` (run once, by
    ``Engine.start``) opens the user-data stream. ``confirm(prompt)`` returns (or, if async,
    resolves to) what the user typed; anything but the symbol list (case-insensitive) aborts
    with nothing sent. Run it in the event loop that will run the engine: the venue's HTTP
    session belongs to that loop. On any failure the client is closed before raising."""
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
    try:
        gate = RestGate(client)
        check = await check_account(gate, endpoints, symbols, settings.max_leverage,
                                    credentials.masked_key)
        for line in check.summary():
            say(line)
        expected = " ".join(symbols)
        answer = confirm(f"Type {expected} to trade with this account (anything else quits): ")
        if inspect.isawaitable(answer):
            answer = await answer
        if " ".join(str(answer or "").upper().split()) != expected:
            raise LiveAborted("not confirmed: nothing was sent to the exchange")
        venue = BinanceVenue(gate, endpoints, symbols, settings)
        try:
            changes = await venue.setup(check)
        except VenueError as exc:  # a read after the changes (brackets, balance)
            raise LiveAborted(f"{exc.text} (after setting up the account: "
                              f"{'; '.join(venue.report.notes) or 'nothing changed'})") from None
        say("account set up: " + ("; ".join(changes) if changes else "nothing to change"))
    except BaseException:
        await client.close_connection()
        raise
    return venue
