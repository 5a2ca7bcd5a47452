"""Restarts never reset risk state, and the emergency stop flattens and verifies."""

from __future__ import annotations

from pathlib import Path

import pytest
from tapedesk.engine.assembly import build_replay_engine
from tapedesk.engine.events import ExplanationKind
from tapedesk.engine.snapshot import DeskState

from tests.engine.helpers import write_sample_csv


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    return write_sample_csv(tmp_path / "btc_1m.csv", days=2)


def _engine(path: Path, data_dir: Path, **kw):
    return build_replay_engine(path, data_dir=data_dir, speed=0, control=False, **kw)


async def test_restart_keeps_day_counters(tmp_path: Path, data_file: Path) -> None:
    eng = _engine(data_file, tmp_path / "d")
    await eng.run()
    before = eng.snapshot().day
    await eng.stop()
    assert before.trades > 0, "the sample must trade for this test to mean anything"
    again = _engine(data_file, tmp_path / "d")
    await again.start()
    after = again.snapshot().day
    await again.stop()
    assert (after.day, after.trades, after.losses, after.realized_pnl, after.locked) == (
        before.day,
        before.trades,
        before.losses,
        before.realized_pnl,
        before.locked,
    )


async def _run_until_position(eng) -> None:
    await eng.start()
    async for batch in eng.feed.batches():
        for ev in batch:
            eng.process(ev)
            if eng.book.positions and eng.orders.protection(next(iter(eng.book.positions))):
                await eng.commit()
                return
    raise AssertionError("no position opened on the sample")


async def test_emergency_stop_flattens_and_verifies_with_the_venue(
    tmp_path: Path, data_file: Path
) -> None:
    eng = _engine(data_file, tmp_path / "d")
    await _run_until_position(eng)
    assert await eng.venue.fetch_open_orders(), "stop and target should be resting"
    sub = eng.subscribe()
    await eng.emergency_stop()
    assert await eng.venue.fetch_positions() == {}
    assert await eng.venue.fetch_open_orders() == []
    assert eng.book.positions == {}
    snap = eng.snapshot()
    assert snap.state is DeskState.HALTED
    texts = [e.text for e in sub.drain() if hasattr(e, "text")]
    joined = "\n".join(texts)
    assert "EMERGENCY STOP" in joined
    assert "Step 1/3 cancel: 2 open order(s)" in joined
    assert "Step 2/3 close: 1 position(s)" in joined
    assert "Step 3/3 verify: the venue reports FLAT" in joined
    assert eng.trades[-1].reason == "emergency stop"
    await eng.stop()


async def test_halt_survives_restart_until_resumed_explicitly(
    tmp_path: Path, data_file: Path
) -> None:
    eng = _engine(data_file, tmp_path / "d")
    await _run_until_position(eng)
    await eng.emergency_stop()
    await eng.stop()
    again = _engine(data_file, tmp_path / "d")
    await again.start()
    assert again.snapshot().state is DeskState.HALTED
    assert "halted" in again.snapshot().extra["gate"]
    n_trades = len(again.trades)
    sub = again.subscribe()
    await again.run()  # the rest of the data: strategies are not even asked
    assert len(again.trades) == n_trades
    assert not any(getattr(e, "kind", None) is ExplanationKind.TAKEN for e in sub.drain())
    await again.resume_from_halt()
    assert again.snapshot().state is not DeskState.HALTED
    await again.stop()


async def test_emergency_stop_retries_until_the_venue_answers(
    tmp_path: Path, data_file: Path
) -> None:
    eng = _engine(data_file, tmp_path / "d")
    await _run_until_position(eng)
    real = eng.venue.fetch_positions
    failures = {"left": 2}

    async def flaky():
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("venue unreachable")
        return await real()

    eng.venue.fetch_positions = flaky
    await eng.emergency_stop()
    assert failures["left"] == 0
    assert await real() == {}
    errors = [e.text for e in eng.recent if e.kind is ExplanationKind.ERROR]
    assert any("venue unreachable" in t and "retrying" in t for t in errors)
    await eng.stop()


async def test_pause_stops_new_entries_but_keeps_managing_the_open_trade(
    tmp_path: Path, data_file: Path
) -> None:
    eng = _engine(data_file, tmp_path / "d")
    await _run_until_position(eng)
    await eng.pause()
    n = len(eng.trades)
    await eng.run()
    # The open trade still closed by its stop/target/exit; nothing new was opened.
    assert len(eng.trades) == n + 1
    assert eng.book.positions == {}
    assert eng.snapshot().state is DeskState.PAUSED
    await eng.stop()
