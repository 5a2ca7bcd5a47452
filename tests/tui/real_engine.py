"""Real engines for the desk tests, screenshots and bench, built by the lead's
engine.assembly exactly as `tapedesk demo` builds them: real Engine, PaperVenue, SQLite
journal (in a temp dir) and ReplayFeed over the bundled real sample data.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from tapedesk.engine.assembly import build_demo_engine, build_replay_engine
from tapedesk.engine.config import DeskConfig, StrategyConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.sample_data import SAMPLE_BARS_1M

#: Bars from the first (2021-12-31 23:01 UTC) up to 2022-01-02 04:15 UTC: a locked first
#: day, then four round trips on the second and a fifth still open when the replay ends.
SNAPSHOT_BARS = 1755
SNAPSHOT_STRATEGIES = [StrategyConfig(name="ema_cross"), StrategyConfig(name="mean_reversion"),
                       StrategyConfig(name="grid", enabled=False)]


def sample_cut(folder: Path, bars: int = SNAPSHOT_BARS) -> Path:
    """The first ``bars`` real one-minute bars of the bundled sample, as a CSV file."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"btc-perp-first-{bars}_1m.csv"
    if not out.exists():
        with gzip.open(SAMPLE_BARS_1M, "rt") as src:
            lines = [next(src) for _ in range(bars + 1)]  # header + bars
        out.write_text("".join(lines))
    return out


def snapshot_engine(home: Path) -> Engine:
    """Replays a fixed cut of the real bars as fast as it can, then stops: the end state
    (and so every number on screen) is the same on every run."""
    cfg = DeskConfig(strategies=SNAPSHOT_STRATEGIES)
    return build_replay_engine(sample_cut(home), data_dir=home, config=cfg, speed=0.0,
                               loop=False, symbol="BTCUSDT", resume=False, control=False)


def live_like_engine(home: Path, speed: float = 1200.0) -> Engine:
    """`tapedesk demo`'s engine (looping real bars) at ``speed``x: trades keep happening and
    paper orders fill, so an emergency stop can verify flat."""
    return build_demo_engine(home, speed=speed, control=False)


def hup_engine(marker: Path) -> Any:
    """The demo engine whose stop() leaves a marker file once the journal is closed."""
    engine: Any = live_like_engine(marker.parent)
    original = engine.stop

    async def stop() -> None:
        await original()
        marker.write_text("stopped")

    engine.stop = stop
    return engine
