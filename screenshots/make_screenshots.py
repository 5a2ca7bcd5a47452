"""Regenerate the SVG screenshots in screenshots/ from the real app on the real engine.

    python3 screenshots/make_screenshots.py [--out screenshots]

Main screens, strategies, a trade's story, help and chart: the engine replays a fixed cut of the bundled
real 1m bars to its end (event-time clock), so they are reproducible. Halted and the quit
dialog: the demo engine (looping replay, as `tapedesk demo`) runs until a trade is open,
then ctrl+x / q. Header faults: UNPROTECTED, JOURNAL ERROR and an offline feed are states
the real engine reaches only under venue/disk/network faults, so that one picture is of the
test suite's FakeEngine (same API) with those snapshot fields set.
A temporary data dir is used for each; nothing of the user's is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tapedesk.tui.app import make_app  # noqa: E402

from tests.tui.helpers import pin_log_to_end, ready, replayed, settle  # noqa: E402
from tests.tui.real_engine import live_like_engine, snapshot_engine  # noqa: E402

THEMES = ("tapedesk-dark", "tapedesk-light", "tapedesk-high-contrast")


async def shoot(out: Path, name: str, size: tuple[int, int], theme: str,
                keys: tuple[str, ...] = ()) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(snapshot_engine(Path(tmp)), bell=False)
        async with app.run_test(size=size) as pilot:
            await replayed(pilot)
            app.theme = theme
            await pin_log_to_end(pilot)
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
            await pilot.pause(0.3)  # let plotext/DataTable finish their first paint
            app.save_screenshot(filename=f"{name}.svg", path=str(out))
    print(f"wrote {out / (name + '.svg')}")


async def shoot_halted(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(live_like_engine(Path(tmp), speed=600), bell=False)
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            while not (app.last_snapshot and app.last_snapshot.positions):
                await pilot.pause(0.05)  # wait for a trade to be open: ctrl+x has work to do
            await pilot.press("ctrl+x")
            while not any("verified flat" in line.text for line in app.explain.lines):
                await settle(pilot)
            await settle(pilot)
            app.save_screenshot(filename="halted.svg", path=str(out))
    print(f"wrote {out / 'halted.svg'}")


async def shoot_quit_dialog(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = live_like_engine(Path(tmp), speed=600)
        app = make_app(engine, bell=False)
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            while not engine.snapshot().positions:
                await pilot.pause(0.05)
            await engine.feed.close()  # keep the picture still: the replay ends, trade open
            await settle(pilot)
            await pilot.press("q")
            await settle(pilot)
            app.save_screenshot(filename="quit-dialog.svg", path=str(out))
    print(f"wrote {out / 'quit-dialog.svg'}")


async def shoot_header_faults(out: Path) -> None:
    from tapedesk.engine.snapshot import FeedStatus

    from tests.tui.fake_engine import FakeEngine

    engine = FakeEngine(position=True)
    engine.mode = "live"
    engine.unprotected = ("BTCUSDT",)
    engine.journal_error = "disk I/O error (database or disk is full)"
    engine.feed_status, engine.data_age_ms = FeedStatus.RECONNECTING, 47_000
    app = make_app(engine, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await settle(pilot)
        app.save_screenshot(filename="header-faults.svg", path=str(out))
    print(f"wrote {out / 'header-faults.svg'}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for theme in THEMES:
        short = theme.removeprefix("tapedesk-")
        await shoot(args.out, f"main-{short}-160x48", (160, 48), theme)
    await shoot(args.out, "main-dark-80x24", (80, 24), "tapedesk-dark")
    await shoot(args.out, "strategies", (120, 36), "tapedesk-dark", ("s",))
    # Enter on the second newest trade (a stop-loss or exit with its whole story).
    await shoot(args.out, "trade-story", (120, 40), "tapedesk-dark", ("down", "enter"))
    await shoot(args.out, "help", (120, 36), "tapedesk-dark", ("question_mark",))
    await shoot(args.out, "chart", (120, 36), "tapedesk-dark", ("c",))
    await shoot_halted(args.out)
    await shoot_quit_dialog(args.out)
    await shoot_header_faults(args.out)


if __name__ == "__main__":
    asyncio.run(main())
