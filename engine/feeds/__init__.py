"""Market data feeds: the Feed interface, file readers and the replay feed."""

from engine.feeds.base import Feed, shifted
from engine.feeds.files import (
    FORMATS,
    DataFormatError,
    detect_format,
    iter_events,
    load_bars,
    open_text,
)
from engine.feeds.replay import ReplayFeed

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
