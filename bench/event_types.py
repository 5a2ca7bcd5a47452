"""Why market events are slotted classes and not pydantic models: cost per event, printed.

    python3 bench/event_types.py [--n 200000]
"""

from __future__ import annotations

import argparse
import time

from pydantic import BaseModel, ConfigDict
from tapedesk.engine.events import Bar


class PydanticBar(BaseModel):
    model_config = ConfigDict(frozen=True)
    symbol: str
    open_ts: int
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


def _time(label: str, make, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        make(i)
    dt = (time.perf_counter() - t) / n * 1e9
    print(f"{label:44s} {dt:8.0f} ns/event")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    n = ap.parse_args().n
    slotted = _time("engine.events.Bar (__slots__)", lambda i: Bar(
        "BTCUSDT", i, i + 59_999, 1.0, 2.0, 0.5, 1.5, 10.0), n)
    validated = _time("pydantic BaseModel (validated)", lambda i: PydanticBar(
        symbol="BTCUSDT", open_ts=i, ts=i + 59_999, open=1.0, high=2.0, low=0.5, close=1.5,
        volume=10.0), n)
    constructed = _time("pydantic model_construct (no validation)", lambda i: PydanticBar
                        .model_construct(symbol="BTCUSDT", open_ts=i, ts=i + 59_999, open=1.0,
                                         high=2.0, low=0.5, close=1.5, volume=10.0), n)
    print(f"pydantic costs {validated / slotted:.1f}x (validated) and {constructed / slotted:.1f}x"
          " (model_construct) a slotted Bar per event")


if __name__ == "__main__":
    main()
