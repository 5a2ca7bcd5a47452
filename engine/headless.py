"""The desk without a screen (`run --headless`, or no desk runner given): one line per
explanation once the journal holds it, a summary at the end; the live variant also says when
the desk can trade."""

from __future__ import annotations

import sys
from typing import Any


async def run_live_headless(engine: Any, out: Any = None) -> int:
    """``run_headless`` plus one line once the desk can trade (streams connected)."""
    import asyncio
    import contextlib

    from tapedesk.engine.live_loop import announce_ready

    out = out or sys.stdout
    ready = asyncio.ensure_future(announce_ready(engine, lambda t: print(t, file=out, flush=True)))
    try:
        return await run_headless(engine, out)
    finally:
        ready.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ready


async def run_headless(engine: Any, out: Any = None) -> int:
    """Run until the feed ends or a signal; one line per explanation, then a summary.

    Lines are printed only once the journal holds them (``on_committed``). A journal that
    cannot be opened, or stays unwritable, ends the run with one plain line on stderr.
    """
    import asyncio
    import signal

    from tapedesk.engine.clock import iso
    from tapedesk.engine.events import Explanation
    from tapedesk.engine.journal_health import JournalError, failure_line

    out = out or sys.stdout

    def show(e: Any) -> None:
        if isinstance(e, Explanation):
            print(f"{iso(e.ts)}  {str(e.kind).upper():8s} {e.text}", file=out, flush=True)

    engine.on_committed = show
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(engine.run())
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, task.cancel)
    failure, interrupted = "", False
    try:
        await task
    except asyncio.CancelledError:
        interrupted = True
    except JournalError as exc:
        failure = str(exc)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await engine.stop()
    failure = failure_line(engine) or failure
    if interrupted and not failure:
        print("Interrupted: journal flushed.", file=out)
    if failure:
        print(f"tapedesk: {failure}", file=sys.stderr)
        if getattr(engine, "journal_health", None) is None:  # refused at start: nothing ran
            return 2
    _print_summary(engine, out)
    return 1 if failure else 0


def _print_summary(engine: Any, out: Any) -> None:
    from tapedesk.engine.metrics import compute_metrics, format_table

    m = compute_metrics(
        engine.trades,
        engine.equity_curve(),
        float(engine.initial_balance),
        engine.bars_in_position,
        engine.bars_seen,
    )
    print("", file=out)
    print(f"Summary ({engine.mode}, journal {getattr(engine.journal, 'path', '-')}):", file=out)
    print(format_table(m), file=out)
    snap = engine.snapshot()
    print(
        f"state {snap.state}; open positions: "
        f"{', '.join(f'{p.side} {p.qty} {p.symbol}' for p in snap.positions.values()) or 'none'}",
        file=out,
    )
