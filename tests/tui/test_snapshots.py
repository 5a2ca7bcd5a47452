"""Snapshots of the main screen at 80x24 and 160x48 in every bundled theme.

The engine has replayed its data to the end before the picture is taken, so every number
on screen comes from deterministic replay (event-time clock), never from the wall clock.
Update after a deliberate UI change with: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest
from tapedesk.themes import load_themes
from tapedesk.tui.app import make_app

from tests.tui.helpers import pin_log_to_end, replayed

THEMES = [t.name for t in load_themes().themes]
SIZES = [(80, 24), (160, 48)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("theme", THEMES)
def test_main_screen(snap_compare, snapshot_engine, theme, size):
    app = make_app(snapshot_engine, bell=False)

    async def run_before(pilot):
        await replayed(pilot)
        app.theme = theme
        await pilot.pause()
        app.refresh_view()
        # Redraw the log from its history now that its size is known, pinned to the end:
        # lines written before the first layout otherwise leave the scrollbar thumb at a
        # position that depends on timing.
        await pin_log_to_end(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
