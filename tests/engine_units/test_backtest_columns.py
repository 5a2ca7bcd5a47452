"""A backtest reading a binary copy makes the bars in its own loop (backtest._run_columns),
refilling a bar nobody kept: strategies must see exactly the bars ``Bar(...)`` would be, a
bar a strategy keeps must never change under it, and the result must be the one the same
bars give through the plain event loop."""

from __future__ import annotations

import inspect
from decimal import Decimal
from pathlib import Path

import pytest
from tapedesk.engine import backtest
from tapedesk.engine.clock import iso
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.events import Bar, Signal
from tapedesk.engine.feeds import bar_copy, load_bars
from tapedesk.engine.feeds.files import iter_events
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import Strategy, create

FIELDS = ("symbol", "open_ts", "ts", "open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def bars() -> list[Bar]:
    return load_bars(SAMPLE_BARS_1M)[:40_000]  # three copy blocks and a part of one


@pytest.fixture()
def copy(tmp_path: Path, bars: list[Bar], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CSV of ``bars`` with its binary copy written (a backtest reads the copy)."""
    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    src = tmp_path / "BTCUSDT-1m.csv"
    src.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{iso(b.open_ts)},{b.open!r},{b.high!r},{b.low!r},{b.close!r},{b.volume!r}\n"
        for b in bars))
    cache = tmp_path / "cache"
    assert len(list(iter_events(src, None, None, None, None, "ohlcv_csv", cache))) == len(bars)
    assert bar_copy.valid_copy(cache, src, "ohlcv_csv") is not None
    return src


def _events(src: Path):
    return iter_events(src, None, None, None, None, "ohlcv_csv", src.parent / "cache")


def _fields(bar: Bar) -> tuple:
    return tuple(getattr(bar, f) for f in FIELDS)


class Looker(Strategy):
    """Records every bar's fields; keeps every ``keep``-th bar object itself."""

    name = "looker"

    def __init__(self, keep: int = 0) -> None:
        super().__init__(None)
        self.seen: list[tuple] = []
        self.kept: list[tuple[Bar, tuple]] = []
        self.keep = keep

    def on_bar(self, bar: Bar) -> Signal | None:
        self.seen.append(_fields(bar))
        assert type(bar) is Bar
        if self.keep and len(self.seen) % self.keep == 0:
            self.kept.append((bar, _fields(bar)))
        return None


def test_the_loop_sets_every_slot_a_bar_has():
    """``_run_columns`` sets the slots itself: a new field of Bar must be set there too."""
    assert set(Bar.__slots__) == set(FIELDS)
    assert list(inspect.signature(Bar).parameters) == list(FIELDS)
    loop = inspect.getsource(backtest._run_columns)
    assert all(f"ev.{f} = " in loop for f in FIELDS)


@pytest.mark.parametrize("keep", [0, 1, 7])
def test_strategies_see_the_bars_of_the_file_and_kept_bars_never_change(
        copy: Path, bars: list[Bar], keep: int):
    parts = _events(copy).parts()
    assert parts is not None
    (part,) = list(parts)
    assert isinstance(part, bar_copy.CopyBars)  # the copy, read by the backtest's own loop
    looker = Looker(keep)
    result = backtest.run_backtest(_events(copy), [looker], DeskConfig())
    assert result.events == len(bars)
    assert looker.seen == [_fields(b) for b in bars]
    if keep:
        assert len(looker.kept) == len(bars) // keep
        assert all(_fields(b) == fields for b, fields in looker.kept)
        assert len({id(b) for b, _ in looker.kept}) == len(looker.kept)


@pytest.mark.parametrize("name", ["ema_cross", "grid", "mean_reversion"])
def test_a_copy_gives_the_result_of_the_plain_event_loop(copy: Path, bars: list[Bar],
                                                         name: str):
    opts = {"no_risk": True, "fixed_qty": Decimal("0.01")}
    seen: list[int] = []
    fast = backtest.run_backtest(_events(copy), [create(name)], DeskConfig(),
                                 progress=seen.append, **opts)
    plain_seen: list[int] = []
    plain = backtest.run_backtest(iter(_events(copy)), [create(name)], DeskConfig(),
                                  progress=plain_seen.append, **opts)
    listed = backtest.run_backtest(list(bars), [create(name)], DeskConfig(), **opts)
    assert fast.to_json() == plain.to_json() == listed.to_json()
    assert (fast.events, fast.fills) == (plain.events, plain.fills) == (len(bars), listed.fills)
    assert seen == plain_seen  # progress after the same numbers of events
    assert len(fast.trades) > 0


def test_events_taken_as_parts_are_not_read_twice(copy: Path, bars: list[Bar]):
    events = _events(copy)
    first = next(events)
    assert _fields(first) == _fields(bars[0])
    assert events.parts() is None  # begun: the parts are no longer anyone's to take
    assert len(list(events)) == len(bars) - 1
    taken = _events(copy)
    assert taken.parts() is not None
    assert list(taken) == []
