"""Does a dead notification service slow the engine? Tick → decision latency with
notifications off, sent to a live local service, to a refused port, and to a blackhole that
accepts connections and never answers (the slowest kind of dead).

Same run as bench/latency_tick_to_decision.py (the real stream capture replayed at full
speed through the real engine; a strategy signalling on every N-th quote, so fills and
closed trades keep coming), with the notification companion subscribed and its batch window
at 0 and a generous bucket, so it tries to send as often as it can: the worst case. Prints
figures; asserts nothing.

    python bench/notify_dead_endpoint.py [--every 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency_tick_to_decision import clock_decisions, pct
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.feeds import ReplayFeed
from tapedesk.engine.notifier import Notifier, build_services
from tapedesk.engine.notify_config import NotifyConfig
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.sample_data import SAMPLE_STREAM
from tapedesk.engine.strategy import create

from tests.notify.local_hook import Blackhole, Hook, dead_url


async def run_once(url: str | None, every: int) -> dict[str, Any]:
    config = DeskConfig()
    engine = Engine(config=config, venue=PaperVenue(config.paper.initial_balance),
                    strategies=[create("bench_every_nth_quote", every=str(every))],
                    feed=ReplayFeed(SAMPLE_STREAM, speed=0), mode="paper")
    notifier = None
    if url is not None:
        cfg = NotifyConfig(urls=["svc"], batch_window_s=0, burst=100, per_minute=600)
        services, _ = build_services(cfg, {"svc": url})
        notifier = Notifier(engine, services, cfg)
    latencies, _ = clock_decisions(engine)
    await engine.start()
    if notifier is not None:
        await notifier.start()
    t0 = time.perf_counter()
    await engine.run()
    elapsed = time.perf_counter() - t0
    attempts = fills = 0
    if notifier is not None:
        svc = notifier.services[0]
        fills = svc.digest.notes
        t1 = time.perf_counter()
        await notifier.close()
        close_s = time.perf_counter() - t1
        attempts = svc.sent + svc.failed
    else:
        close_s = 0.0
    await engine.stop()
    return {"lat": latencies, "elapsed": elapsed, "attempts": attempts, "close_s": close_s,
            "events": engine.feed.events_emitted, "waiting": fills,
            "ok": notifier.services[0].sent if notifier else 0}


async def main_async(args: argparse.Namespace) -> None:
    hook, hole = Hook(), Blackhole()
    cases = [("notifications off", None), ("live local service", hook.url()),
             ("refused port (dead)", dead_url()), ("blackhole (dead, never answers)",
                                                   hole.url())]
    import os
    import statistics

    print(f"{SAMPLE_STREAM.name}, strategy bench_every_nth_quote every={args.every}; cases "
          f"interleaved over {args.runs} rounds (the machine is shared: load average "
          f"{os.getloadavg()[0]:.1f}), latencies pooled per case")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in cases}
    for _ in range(args.runs):
        for name, url in cases:
            results[name].append(await run_once(url, args.every))
    for name, runs in results.items():
        us = sorted(x / 1000 for r in runs for x in r["lat"])
        el = statistics.median(r["elapsed"] for r in runs)
        print(f"{name:32s} decisions={len(us):5d}  p50={pct(us, 50):6.1f} µs  "
              f"p90={pct(us, 90):6.1f} µs  p99={pct(us, 99):7.1f} µs  max={us[-1]:8.1f} µs  "
              f"replay median {el:.2f} s  sends tried {sum(r['attempts'] for r in runs)} "
              f"(ok {sum(r['ok'] for r in runs)}), close max "
              f"{max(r['close_s'] for r in runs):.2f} s")
    hook.close()
    hole.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    logging.getLogger("tapedesk.notify").setLevel(logging.ERROR)  # the failures are expected
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
