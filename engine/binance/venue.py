"""``BinanceVenue``: real orders on Binance USDT-M (or a local exchange) behind the Venue API.

Shape of one trade, as this venue places it:
- at start: exchangeInfo filters, leverage brackets and commission rates per symbol, one-way
  position mode required, ISOLATED margin and leverage ≤ the desk's cap set per symbol;
- orders: ``orders.py`` places them (entries and exits on ``/fapi/v1/order``, stops and
  targets reduce-only on the Algo service), settles unknown outcomes without ever sending an
  entry twice, and turns every exchange trade into exactly one ``Fill``;
- the user-data stream (``user_events.py``) reports ORDER_TRADE_UPDATE, ALGO_UPDATE and
  ACCOUNT_UPDATE; whenever it (re)connects the venue re-reads every order it tracks over REST
  and fetches the trades of any fill it has not seen (``userTrades``), so a disconnect or a
  restart never loses a fill and a replayed one is dropped by its trade id;
- the account (``account.py``): wallet, available balance, positions, brackets, fees, kept
  current from ACCOUNT_UPDATE so live sizing measures the real account;
- clearing the exchange over REST alone (``flatten.py``, a base class): cancel all, close
  reduce-only, and the emergency stop's loop until Binance reports flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from binance import BinanceSocketManager
from tapedesk.engine import symbols
from tapedesk.engine.binance.account import AccountState, Bracket, FundingPaid
from tapedesk.engine.binance.endpoints import Endpoints, apply_to_socket_manager
from tapedesk.engine.binance.errors import VenueError
from tapedesk.engine.binance.flatten import Flatten
from tapedesk.engine.binance.orders import (
    ALGO_TYPES,
    Tracked,
    client_order_id,
    role_from_client_id,
)
from tapedesk.engine.binance.placement import LiveOrders
from tapedesk.engine.binance.rest import RestGate
from tapedesk.engine.binance.settings import LiveSettings
from tapedesk.engine.binance.startup import (
    AccountCheck,
    LiveAborted,
    apply_account_setup,
    check_account,
)
from tapedesk.engine.binance.streams import StreamSupervisor
from tapedesk.engine.binance.user_events import UserEvents
from tapedesk.engine.events import Fill, MarketEvent, OrderIntent, Position
from tapedesk.engine.snapshot import FeedStatus
from tapedesk.engine.symbols import SymbolSpec
from tapedesk.engine.venue import VenueSink

log = logging.getLogger(__name__)

__all__ = ["ALGO_TYPES", "BinanceVenue", "LiveSettings", "StartupReport", "client_order_id",
           "role_from_client_id"]


@dataclass
class StartupReport:
    """What ``start`` found and did, for the log and the live confirmation screen."""

    balance: Decimal = Decimal(0)
    position_mode: str = "one-way"
    margin: dict[str, str] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class BinanceVenue(Flatten):
    name = "binance"
    simulated = False

    def __init__(
        self,
        gate: RestGate,
        endpoints: Endpoints,
        symbols: list[str] | tuple[str, ...],
        settings: LiveSettings | None = None,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.gate = gate
        self.client = gate.client
        self.endpoints = endpoints
        self.symbols = [s.upper() for s in symbols]
        self.settings = settings or LiveSettings()
        self._now_ms = now_ms or (lambda: gate._server_ms())
        self.specs: dict[str, SymbolSpec] = {}
        self.leverage: dict[str, int] = {}
        self.last_price: dict[str, float] = {}
        self.account = AccountState(self._now_ms)
        self.report = StartupReport()
        self._sink: VenueSink | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._leverage_set: dict[str, asyncio.Future[Any]] = {}
        self._started = False
        self.book = LiveOrders(gate, self.settings, self.spec, self.last_price, self._now_ms,
                               self._spawn, lambda: (self.maker_fee, self.taker_fee))
        self.events = UserEvents(self.book, self.account, self.leverage, self._funding,
                                 self._listen_key_expired, self._error)
        self.user_stream = StreamSupervisor(
            "user", self._user_socket, self._on_user_message, on_status=self._user_status,
            on_connected=self.resync, stale_after=None, restart_after=None,
            max_age=self.settings.user_max_age, backoff_base=self.settings.backoff_base,
            backoff_max=self.settings.backoff_max)

    # -- the account, as the engine reads it ---------------------------------------------------
    @property
    def orders(self) -> dict[str, Tracked]:
        return self.book.orders

    @property
    def balance(self) -> Decimal:
        """Wallet balance in USDT (REST at start, then every ACCOUNT_UPDATE)."""
        return self.account.wallet

    @balance.setter
    def balance(self, value: Decimal) -> None:
        self.account.wallet = value

    def available(self) -> Decimal:
        """What new orders can use: the wallet minus the margin isolated positions hold."""
        return self.account.available

    @property
    def positions(self) -> dict[str, Position]:
        return self.account.positions

    @positions.setter
    def positions(self, value: dict[str, Position]) -> None:
        self.account.positions = value

    @property
    def brackets(self) -> dict[str, list[Bracket]]:
        """Per symbol, maintenance tiers ``(notional_cap, mmr, cum)`` sorted by cap."""
        return self.account.brackets

    @property
    def maker_fee(self) -> Decimal:
        """The account's maker commission rate (a fraction: 0.0002 is 0.02 %)."""
        return self.account.maker_fee

    @property
    def taker_fee(self) -> Decimal:
        return self.account.taker_fee

    # -- Venue API ----------------------------------------------------------------------
    def bind(self, sink: VenueSink) -> None:
        self._sink = sink
        self.book.sink = sink

    def on_market(self, event: MarketEvent) -> None:
        """The exchange fills real orders; the last price only values orders for the local
        min-notional check (so a too-small order is refused before it is sent)."""
        price = getattr(event, "price", None) or getattr(event, "ask", None) or getattr(
            event, "close", None) or getattr(event, "mark", None)
        if price:
            self.last_price[event.symbol] = price

    @property
    def api_weight(self) -> int:
        return self.gate.limits.weight_used

    def spec(self, symbol: str) -> SymbolSpec:
        try:
            return self.specs[symbol]
        except KeyError:
            raise VenueError(f"{symbol} is not set up on this venue (not in exchangeInfo "
                             "or not in the desk's symbols)") from None

    #: The account check that ``setup`` acted on (None until then).
    account_check: AccountCheck | None = None

    async def setup(self, check: AccountCheck) -> list[str]:
        """After the user confirmed: ISOLATED margin and leverage (``engine.binance.startup``),
        then this venue's own state. Opens no stream: ``start`` does, once."""
        changes = await apply_account_setup(self.gate, check)
        self.account_check = check
        self.specs.update(check.specs)
        await self._load_brackets()
        for st in check.states.values():
            self.leverage[st.symbol] = int(st.leverage or st.target_leverage)
            self.report.leverage[st.symbol] = self.leverage[st.symbol]
            self.report.margin[st.symbol] = st.margin_type or "ISOLATED"
        self.report.notes.extend(changes)
        self.balance = await self.fetch_balance()
        self.report.balance = self.balance
        return changes

    async def start(self) -> None:
        """Open the user-data stream (one listenKey). Runs once: a second call does nothing.
        Without a prior ``setup`` (tests, tools) it checks and sets up the account first."""
        if self._started:
            return
        if self.account_check is None:
            try:
                check = await check_account(self.gate, self.endpoints, self.symbols,
                                            self.settings.max_leverage)
                await self.setup(check)
            except LiveAborted as exc:
                raise VenueError(str(exc)) from None
        self._started = True
        self.user_stream.start()

    async def close(self) -> None:
        await self.user_stream.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def set_leverage(self, symbol: str, leverage: int) -> None:
        """Runs before the entry that needs it: ``submit`` waits for it (an entry filled at
        the old leverage could put the liquidation price inside the stop)."""
        task = asyncio.ensure_future(self.set_leverage_async(symbol, leverage))
        self._leverage_set[symbol] = task
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    async def set_leverage_async(self, symbol: str, leverage: int) -> int:
        lev = max(1, min(int(leverage), self.settings.max_leverage))
        if self.leverage.get(symbol) == lev:
            return lev
        res = await self.gate.call("futures_change_leverage", symbol=symbol, leverage=lev)
        self.leverage[symbol] = int(res.get("leverage", lev))
        self.report.leverage[symbol] = self.leverage[symbol]
        return self.leverage[symbol]

    def submit(self, intent: OrderIntent) -> None:
        """Never blocks the engine loop: the REST call runs in a task of its own."""
        pending = self._leverage_set.pop(intent.symbol, None)
        settled = pending is None or (pending.done() and not pending.cancelled()
                                      and pending.exception() is None)
        if settled or intent.reduce_only:
            self.book.submit(intent)
        else:
            self._spawn(self._submit_after(pending, intent))

    async def _submit_after(self, leverage: asyncio.Future[Any], intent: OrderIntent) -> None:
        try:
            await asyncio.shield(leverage)
        except VenueError as exc:
            self.book.submit_refused(intent, f"not sent: leverage could not be set ({exc.text})")
            return
        self.book.submit(intent)

    def track(self, intents: list[OrderIntent], fills: Iterable[Fill] = (),
              unanswered: set[str] | frozenset[str] = frozenset()) -> None:
        """Resume managing orders open on the exchange (after a restart, once reconciliation
        matched them with the journal, or the user adopted them): each is looked up now, so
        a stop that filled while the desk was down reaches the engine as the stop's fills
        (``userTrades``, each trade once). ``fills``: what the journal already holds for
        these orders, so none is reported twice; ``unanswered``: those journaled (write-ahead)
        whose answer the journal never got: one not on Binance was never sent."""
        self.book.track(intents, fills, unanswered)

    def not_on_exchange(self) -> set[str]:
        """Restored ``unanswered`` orders Binance, asked by client id, does not know (never
        sent); one whose look-up failed (a 5xx, a timeout) is not among them."""
        return {cid for cid, tr in self.book.orders.items()
                if tr.unanswered and tr.declared_missing}

    def untrack(self, client_id: str) -> None:
        """The trader answered this order at reconciliation: no look-up or report of it any
        more (its later events are logged as another program's)."""
        book = self.book
        book.orders.pop(client_id, None)
        for order_id in [o for o, c in book.by_actual.items() if c == client_id]:
            del book.by_actual[order_id]

    async def answered(self, client_ids: list[str], timeout: float) -> None:
        """Return once Binance answered each of these orders, or after ``timeout``: the
        emergency stop reads the exchange only after its closes (sent after their
        write-ahead commit) are there."""
        heard = [tr.heard.wait() for cid in client_ids if (tr := self.book.orders.get(cid))]
        if heard:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*heard), timeout)

    def cancel(self, symbol: str, client_id: str) -> None:
        self._spawn(self.cancel_async(symbol, client_id))

    async def cancel_async(self, symbol: str, client_id: str) -> None:
        await self.book.cancel(symbol, client_id)

    async def fetch_balance(self) -> Decimal:
        """Wallet balance in USDT; ``available()`` is refreshed by the same call."""
        return await self.account.fetch_balance(self.gate)

    async def load_terms(self) -> None:
        """Leverage brackets and commission rates of the traded symbols (read every start:
        Binance changes both); the first bracket also lands in each ``SymbolSpec``."""
        await self.account.load_brackets(self.gate, self.symbols)
        if self.symbols:
            await self.account.load_commission(self.gate, self.symbols[0])
        self.report.notes.extend(self.account.notes)
        # engine.symbols owns the tier rule; where it knows every tier (``margin_tiers``),
        # the spec gets them all, else the first tier only.
        to_tiers = getattr(symbols, "tiers_from_leverage_bracket", None)
        for sym, tiers in self.account.brackets.items():
            if sym in self.specs and tiers:
                extra = {"margin_tiers": to_tiers(self.account.bracket_rows[sym])} if (
                    to_tiers and "margin_tiers" in SymbolSpec.__dataclass_fields__) else {}
                self.specs[sym] = dataclasses.replace(
                    self.specs[sym], maint_margin_rate=tiers[0].mmr, maint_amount=tiers[0].cum,
                    **extra)

    async def resync(self) -> None:
        """After (re)connecting the user stream: what happened while nobody listened."""
        if not self._started and not self.book.orders:
            return
        await self.book.resync_all()
        with contextlib.suppress(VenueError):
            await self.fetch_positions()
            await self.fetch_balance()

    # -- user-data stream -----------------------------------------------------------------
    def _user_socket(self) -> Any:
        bsm = BinanceSocketManager(self.client, user_timeout=self.settings.keepalive_s,
                                   max_queue_size=self.settings.max_queue_size)
        apply_to_socket_manager(bsm, self.endpoints)
        bsm.ws_kwargs.update(ping_interval=self.settings.ping_interval,
                             ping_timeout=self.settings.ping_interval)
        return bsm.futures_user_socket()

    def _user_status(self, status: FeedStatus, text: str) -> None:
        if status in (FeedStatus.RECONNECTING, FeedStatus.DISCONNECTED) and self._started:
            self._error(f"user-data stream {status.value}: {text}")

    def _on_user_message(self, msg: dict[str, Any]) -> None:
        self.events.handle(msg)

    def _listen_key_expired(self) -> None:
        self._error("user-data listenKey expired: opening a new stream and resyncing")
        self.user_stream.request_restart("listenKeyExpired")

    def _funding(self, paid: FundingPaid) -> None:
        found = self.account.attribute(paid, self.last_price)
        if found is None:
            self._error(f"funding of {paid.amount} USDT on no identifiable position: counted "
                        "in the wallet only")
        elif self._sink:
            self._sink.on_funding(found.symbol, found.amount, found.rate, found.ts)

    def _error(self, text: str) -> None:
        log.warning(text)
        if self._sink:
            self._sink.on_venue_error(text)

    # -- setup helpers ------------------------------------------------------------------------
    async def _load_brackets(self) -> None:
        """Kept for ``start``: brackets *and* commission rates (``load_terms``)."""
        await self.load_terms()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            text = exc.text if isinstance(exc, VenueError) else f"{type(exc).__name__}: {exc}"
            self._error(f"venue task failed: {text}")
