"""Market data feeds: the Feed interface, file readers and the replay feed."""

from tapedesk.engine.feeds.base import Feed, shifted
from tapedesk.engine.feeds.checks import DataError
from tapedesk.engine.feeds.files import (
    FORMATS,
    DataFormatError,
    check_readable,
    detect_format,
    iter_events,
    load_bars,
    open_text,
)
from tapedesk.engine.feeds.replay import ReplayFeed

__all__ = [
    "FORMATS",
    "DataError",
    "DataFormatError",
    "Feed",
    "ReplayFeed",
    "check_readable",
    "detect_format",
    "iter_events",
    "load_bars",
    "open_text",
    "shifted",
]
