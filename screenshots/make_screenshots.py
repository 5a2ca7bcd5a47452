"""Regenerate the SVG screenshots in screenshots/ from the real app on the real engine.

    python3 screenshots/make_screenshots.py [--out screenshots]

The engine replays the bundled sample data to its end first (event-time clock), so the
pictures are reproducible. A temporary data dir is used; nothing of the user's is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tui.replay_engine import build_replayed_engine  # noqa: E402

from tui.app import make_app  # noqa: E402

THEMES = ("tapedesk-dark", "tapedesk-light", "tapedesk-high-contrast")


async def shoot(
    out: Path, name: str, size: tuple[int, int], theme: str, keys: tuple[str, ...]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = await build_replayed_engine(Path(tmp))
        app = make_app(engine, bell=False)
        async with app.run_test(size=size) as pilot:
            while not app.engine_ready:
                await pilot.pause(0.02)
            await app.workers.wait_for_complete([w for w in app.workers if w.name == "engine-run"])
            app.theme = theme
            for key in keys:
                await pilot.press(key)
                await pilot.pause(0.1)
                await app.workers.wait_for_complete(
                    [w for w in app.workers if w.group not in ("engine",)])
                app.refresh_view()
            await pilot.pause(0.2)
            app.refresh_view()
            await pilot.pause()
            app.save_screenshot(filename=f"{name}.svg", path=str(out))
        print(f"wrote {out / (name + '.svg')}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for theme in THEMES:
        short = theme.removeprefix("tapedesk-")
        await shoot(args.out, f"main-{short}-160x48", (160, 48), theme, ())
    await shoot(args.out, "main-dark-80x24", (80, 24), "tapedesk-dark", ())
    await shoot(args.out, "strategies", (120, 36), "tapedesk-dark", ("s",))
    await shoot(args.out, "help", (120, 36), "tapedesk-dark", ("question_mark",))
    await shoot(args.out, "chart", (120, 36), "tapedesk-dark", ("c",))
    await shoot(args.out, "halted", (120, 36), "tapedesk-dark", ("ctrl+x",))


if __name__ == "__main__":
    asyncio.run(main())
