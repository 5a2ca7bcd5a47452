"""Factories that put an Engine together for each way the desk runs.

The CLI, the TUI, the tests and the screenshot script all build desks here, so a demo in a
test is the same desk a user sees.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tapedesk.engine.clock import EventClock, WallClock
from tapedesk.engine.config import DeskConfig, StrategyConfig
from tapedesk.engine.control import socket_path
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import MarketEvent
from tapedesk.engine.journal import Journal, db_path
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.snapshot import FeedStatus
from tapedesk.engine.strategy import Strategy, StrategyError, create

#: The demo's line-up: the reference strategy and the desk's own on, the rest to toggle.
#: Constants, not validated: importing this module must not build the config models.
DEMO_STRATEGIES = [
    StrategyConfig.model_construct(name="ema_cross"),
    StrategyConfig.model_construct(name="liquidity_sweep"),
    StrategyConfig.model_construct(name="mean_reversion", enabled=False),
    StrategyConfig.model_construct(name="grid", enabled=False),
    StrategyConfig.model_construct(name="book_imbalance", enabled=False),
]
DEMO_SPEED = 600.0  # ten one-minute bars a second: a trade every minute or so


def load_user_strategies() -> list[str]:
    """Plugins from ``<config dir>/strategies/*.py`` and the ``tapedesk.strategies`` entry
    points; a broken one is reported, never fatal."""
    from tapedesk.engine.config import config_dir
    from tapedesk.engine.strategy_plugins import load_plugins, plugin_dir

    return load_plugins([plugin_dir(config_dir())])


def build_strategies(config: DeskConfig) -> tuple[list[Strategy], set[str], list[str]]:
    """Strategies from config, or StrategyError before anything starts.

    A misspelt name, an unknown or ill-typed parameter (enabled or not) stops the desk at
    start with the same check and wording as ``--param`` (``strategy.create``), prefixed with
    the config path (``strategies[0].name: unknown strategy 'ema_crosss'; available: ...``):
    a desk that silently runs without the strategy the trader asked for is worse than none.
    The returned errors are plugin files that failed to load (warnings: the desk still runs).
    """
    out: list[Strategy] = []
    disabled: set[str] = set()
    errors = load_user_strategies()
    for i, sc in enumerate(config.strategies):
        where = f"strategies[{i}]"
        try:
            out.append(create(sc.name, tuple(sc.symbols) if sc.symbols else None, **sc.params))
        except StrategyError as exc:
            field = "name" if str(exc).startswith("unknown strategy") else "params"
            hint = f" (plugin problems: {'; '.join(errors)})" if errors and field == "name" else ""
            raise StrategyError(f"config {where}.{field}: {exc}{hint}") from None
        if not sc.enabled:
            disabled.add(sc.name)
    return out, disabled, errors


def paper_venue(config: DeskConfig) -> PaperVenue:
    p = config.paper
    return PaperVenue(
        p.initial_balance,
        maker_fee_bps=p.maker_fee_bps,
        taker_fee_bps=p.taker_fee_bps,
        slippage_bps=p.slippage_bps,
        latency_ms=p.latency_ms,
        fill_at=p.fill_at,
        assumed_funding_bps_8h=p.assumed_funding_bps_8h,
    )


def source_id(path: Path) -> str:
    """Identifies a replay source, so a restart resumes only the same replay."""
    import hashlib  # here: only a replay needs it (loading OpenSSL: ~12 M instructions)

    p = Path(path).resolve()
    st = p.stat()
    return hashlib.sha256(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


def build_replay_engine(
    path: str | Path,
    *,
    data_dir: Path,
    config: DeskConfig | None = None,
    speed: float = 0.0,
    loop: bool = False,
    mode: str = "paper",
    resume: bool = True,
    symbol: str | None = None,
    control: bool = True,
) -> Engine:
    """Paper trading on a replayed file, journaled in ``<data_dir>/<mode>.db``.

    With ``resume`` (the default) a restart after a crash continues after the last event
    the journal committed; a looping replay never resumes (its time is synthetic).
    """
    from tapedesk.engine.feeds.replay import ReplayFeed

    config = config or DeskConfig()
    strategies, disabled, errors = build_strategies(config)
    feed = ReplayFeed(path, speed=speed, loop=loop, symbol=symbol)
    engine = Engine(
        config=config,
        venue=paper_venue(config),
        strategies=strategies,
        feed=feed,
        journal=Journal(db_path(data_dir, mode)),
        clock=EventClock(),
        mode=mode,
        source_id=source_id(Path(path)) if resume and not loop else f"loop-{source_id(Path(path))}",
        disabled=disabled,
        control_path=socket_path(data_dir, mode) if control else None,
    )
    for e in errors:
        engine.on_venue_error(e)
    return engine


def build_demo_engine(
    data_dir: Path,
    config: DeskConfig | None = None,
    speed: float = DEMO_SPEED,
    control: bool = True,
) -> Engine:
    """The offline demo: the bundled real 1m sample, looping, in its own journal."""
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M

    config = config or DeskConfig()
    if "strategies" not in config.model_fields_set:
        config = config.model_copy(update={"strategies": DEMO_STRATEGIES})
    return build_replay_engine(
        SAMPLE_BARS_1M,
        data_dir=data_dir,
        config=config,
        speed=speed,
        loop=True,
        mode="demo",
        resume=False,
        control=control,
    )


class CallbackFeed:
    """Adapts a push-style live feed (callbacks) to the engine's batch-pulling Feed.

    The queue is bounded: if the engine ever fell this far behind, the oldest events are
    the least useful ones, so they are dropped and counted rather than growing memory.
    """

    def __init__(self, name: str, symbols: tuple[str, ...], maxsize: int = 50_000) -> None:
        import asyncio  # here: a backtest never starts an event loop

        self.name = name
        self.symbols = symbols
        self.status = FeedStatus.CONNECTING
        self.dropped = 0
        self.inner: Any = None
        self._queue: asyncio.Queue[MarketEvent] = asyncio.Queue(maxsize)
        self._closed = False

    def push(self, ev: MarketEvent) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(ev)

    def set_status(self, status: FeedStatus, _text: str = "") -> None:
        self.status = status

    async def batches(self) -> AsyncIterator[list[MarketEvent]]:
        if self.inner is not None:
            await self.inner.start()
        while not self._closed:
            first = await self._queue.get()
            batch = [first]
            while not self._queue.empty() and len(batch) < 1000:
                batch.append(self._queue.get_nowait())
            yield batch

    async def close(self) -> None:
        self._closed = True
        if self.inner is not None:
            with contextlib.suppress(Exception):
                await self.inner.stop()
            with contextlib.suppress(Exception):
                await self.inner.client.close_connection()


def desk_name(mode: str, environment: str) -> str:
    """The journal (and lock, socket, log) name: a live desk on Binance's testnet or
    demo-trading environment never shares ``live.db`` with real money, nor ``demo.db``
    with the offline replay."""
    if mode == "live" and environment in ("testnet", "demo-trading"):
        return environment
    return mode


def _binance_desk(
    data_dir: Path,
    config: DeskConfig,
    venue: Any,
    mode: str,
    testnet: bool | None,
    demo_trading: bool | None,
) -> Engine:
    """A desk on Binance's live public market data, with ``venue`` doing the trading."""
    from tapedesk.engine.binance.live import endpoints_for, paper_feed

    strategies, disabled, errors = build_strategies(config)
    endpoints = endpoints_for(config.binance, testnet, demo_trading)
    feed = CallbackFeed("binance", tuple(config.symbols))
    feed.inner = paper_feed(
        endpoints,
        config.symbols,
        feed.push,
        feed.set_status,
        stale_after=config.risk.stale_after_s,
        # any configured strategy that reads the book (on_depth), enabled or not: it may be
        # switched on in the desk, and its book must already be in step
        depth=any(s.handles("on_depth") for s in strategies),
    )
    engine = Engine(
        config=config,
        venue=venue,
        strategies=strategies,
        feed=feed,
        journal=Journal(db_path(data_dir, desk_name(mode, endpoints.name))),
        clock=WallClock(),
        mode=mode,
        disabled=disabled,
        control_path=socket_path(data_dir, desk_name(mode, endpoints.name)),
    )
    engine.environment = endpoints.name
    engine.feed_source = "live feed"
    for e in errors:
        engine.on_venue_error(e)
    return engine


def build_paper_engine(
    data_dir: Path,
    config: DeskConfig | None = None,
    testnet: bool | None = None,
    demo_trading: bool | None = None,
) -> Engine:
    """Paper trading on Binance's live public market data (no keys)."""
    config = config or DeskConfig()
    return _binance_desk(data_dir, config, paper_venue(config), "paper", testnet, demo_trading)


def build_live_engine(
    data_dir: Path,
    config: DeskConfig,
    venue: Any,
    testnet: bool | None = None,
    demo_trading: bool | None = None,
) -> Engine:
    """Real orders through a started BinanceVenue (see engine.binance.live.prepare_live)."""
    return _binance_desk(data_dir, config, venue, "live", testnet, demo_trading)
