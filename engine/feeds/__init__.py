"""Market data feeds: the Feed interface, file readers and the replay feed."""

from tapedesk.engine.feeds.base import Feed, shifted
from tapedesk.engine.feeds.files import (
    FORMATS,
    DataFormatError,
    detect_format,
    iter_events,
    load_bars,
    open_text,
)
from tapedesk.engine.feeds.replay import ReplayFeed

__all__ = [
    "FORMATS",
    "DataFormatError",
    "Feed",
    "ReplayFeed",
    "detect_format",
    "iter_events",
    "load_bars",
    "open_text",
    "shifted",
]
