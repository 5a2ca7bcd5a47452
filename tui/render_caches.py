"""Textual's per-widget render caches, sized to what the desk can show at once.

DataTable keeps up to 10,000 rendered cells and 1,000 rendered rows and lines; their keys
include a counter that changes on every added row, so a trade table that gains a row every
few minutes fills them with entries nothing will read again, and only settles after many
megabytes (the desk's largest growth over a simulated week under tracemalloc:
bench/desk_memory.py). RichLog keeps 1,024 rendered lines keyed by scroll position. A couple
of screens' worth is all a repaint can reuse, so that is all they keep here.
"""

from __future__ import annotations

from typing import Any

#: DataTable: cells (rows on screen x columns, twice over), rows and lines (a tall screen).
TABLE_CACHES = {"_cell_render_cache": 1024, "_row_render_cache": 128,
                "_row_renderable_cache": 256, "_line_cache": 256}
#: RichLog: rendered lines of the visible window.
LOG_CACHES = {"_line_cache": 256}


def limit_render_caches(widget: Any, sizes: dict[str, int]) -> list[str]:
    """Lower each named cache's ceiling; returns the names this Textual version lacks
    (tests/tui/test_memory_bounds.py fails on any, so an upgrade cannot undo this quietly)."""
    missing = []
    for name, size in sizes.items():
        cache = getattr(widget, name, None)
        if cache is None or not hasattr(cache, "maxsize"):
            missing.append(name)
            continue
        cache.maxsize = min(cache.maxsize, size)
    return missing
