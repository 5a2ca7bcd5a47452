"""Real data cut to size for engine tests."""

from __future__ import annotations

from pathlib import Path

from tapedesk.engine.clock import parse_time
from tapedesk.engine.feeds.files import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M


def write_sample_csv(path: Path, days: int = 3, start: str = "2022-01-03") -> Path:
    """The bundled real 1m BTC series, ``days`` days of it, in its original CSV layout."""
    t0 = parse_time(start)
    bars = load_bars(SAMPLE_BARS_1M, start_ms=t0, end_ms=t0 + days * 86_400_000)
    from datetime import UTC, datetime

    lines = ["timestamp,open,high,low,close,volume"]
    for b in bars:
        stamp = datetime.fromtimestamp(b.open_ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        lines.append(f"{stamp},{b.open},{b.high},{b.low},{b.close},{b.volume}")
    path.write_text("\n".join(lines) + "\n")
    return path
