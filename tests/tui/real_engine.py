"""Real engines for the desk tests, screenshots and bench: real Engine, PaperVenue, Journal
(SQLite in a temp dir) and ReplayFeed over the bundled real sample data.

Uses the lead's engine.assembly when it offers a replay builder; until then it wires the
same public parts itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import DeskConfig, StrategyConfig
from engine.engine import Engine
from engine.feeds import ReplayFeed
from engine.journal import Journal
from engine.paper_venue import PaperVenue
from engine.sample_data import SAMPLE_BARS_1M
from engine.strategy import create

BAR_MS = 60_000
#: From the first bar (2021-12-31 23:01 UTC) to 2022-01-02 04:15 UTC: a locked first day, then
#: four round trips on the second and the fifth still open when the replay ends.
SNAPSHOT_END_MS = 1_641_096_900_000
STRATEGIES = ("ema_cross", "mean_reversion")


def build_engine(
    home: Path,
    *,
    data: Path = SAMPLE_BARS_1M,
    speed: float = 0.0,
    loop: bool = False,
    start_ms: int | None = None,
    end_ms: int | None = None,
    strategies: tuple[str, ...] = STRATEGIES,
) -> Engine:
    cfg = DeskConfig(strategies=[StrategyConfig(name=n) for n in strategies])
    venue = PaperVenue(cfg.paper.initial_balance, maker_fee_bps=cfg.paper.maker_fee_bps,
                       taker_fee_bps=cfg.paper.taker_fee_bps,
                       slippage_bps=cfg.paper.slippage_bps, latency_ms=cfg.paper.latency_ms)
    feed = ReplayFeed(data, speed=speed, loop=loop, symbol="BTCUSDT", start_ms=start_ms,
                      end_ms=end_ms)
    return Engine(config=cfg, venue=venue, strategies=[create(n) for n in strategies],
                  feed=feed, journal=Journal(home / "paper.db"), mode="paper",
                  source_id=f"replay:{Path(data).name}")


def snapshot_engine(home: Path) -> Engine:
    """Replays a fixed 30 h window as fast as it can, then stops: deterministic end state."""
    return build_engine(home, end_ms=SNAPSHOT_END_MS)


def live_like_engine(home: Path, speed: float = 1200.0) -> Engine:
    """Loops the 1m bars at ``speed``x (20 bars/s by default): trades keep happening, and
    paper orders fill (an emergency stop can verify flat), as in ``tapedesk demo``."""
    return build_engine(home, speed=speed, loop=True)


def hup_engine(marker: Path) -> Any:
    """The real demo-like engine whose stop() leaves a marker file once the journal closed."""
    engine: Any = live_like_engine(marker.parent)
    original = engine.stop

    async def stop() -> None:
        await original()
        marker.write_text("stopped")

    engine.stop = stop
    return engine
