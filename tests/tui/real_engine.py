"""Engines for the desk tests: the real one when engine.assembly exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def have_real_engine() -> bool:
    try:
        import engine.assembly  # noqa: F401
    except ImportError:
        return False
    return True


def hup_engine(marker: Path) -> Any:
    """An engine whose stop() leaves a marker file, so a test can see it ran."""
    from tests.tui.fake_engine import FakeEngine

    engine: Any = FakeEngine()
    original = engine.stop

    async def stop() -> None:
        await original()
        marker.write_text("stopped")

    engine.stop = stop
    return engine
