"""A trade's story is tied by position id across a restart, and a manual close (the reason
the position-actions keys give) reads like any other exit reason."""

from __future__ import annotations

from decimal import Decimal

from tapedesk.engine.clock import EventClock
from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import OrderRole
from tapedesk.engine.journal import Journal
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.trade_story import load_story, story_text

from tests.engine_units._helpers import ScriptedStrategy, bar, long_at_close

ETH = "ETHUSDT"


def _engine(path, strategy: ScriptedStrategy) -> Engine:
    venue = PaperVenue(Decimal(10_000), slippage_bps=0.0, latency_ms=0, fill_at="close",
                       assumed_funding_bps_8h=0.0)
    return Engine(config=DeskConfig(symbols=[ETH]), venue=venue, strategies=[strategy],
                  clock=EventClock(), mode="paper", journal=Journal(path))


def flat(i: int, px: float = 2000.0):
    return bar(i, px, px, px, px)


async def test_a_position_opened_before_a_restart_and_closed_by_hand_has_its_whole_story(
    tmp_path,
):
    path = tmp_path / "paper.db"
    first = _engine(path, ScriptedStrategy({0: long_at_close()}))
    await first.start()
    first.process(flat(0))  # signal, entry filled at the close
    first.process(flat(1))  # stop and target acknowledged
    pos_id = first.book.positions[ETH].position_id
    assert pos_id
    await first.commit()
    await first.stop()

    second = _engine(path, ScriptedStrategy())
    await second.start()
    pos = second.book.positions[ETH]
    assert pos.position_id == pos_id  # the checkpoint kept it
    second.process(flat(2, 2001.0))  # market data flows again before the trader acts
    second.close_position(pos, OrderRole.EXIT, "manual")
    second.process(flat(3, 2001.0))
    await second.commit()
    (trip,) = second.trades
    assert trip.id == 1 and trip.reason == "manual" and trip.position_id == pos_id
    story = await load_story(second.journal, trip.id)
    await second.stop()

    assert story["linked"] and story["missing"] == []
    assert story["exit"]["reason"] == "manual"
    assert [(f["role"], f["side"], f["price"]) for f in story["fills"]] == [
        ("entry", "BUY", "2000.00"), ("exit", "SELL", "2001.00")]
    assert story["decision"]["accepted"] and story["signal"]["strategy"] == "scripted"
    assert {o["role"] for o in story["protection"]} == {"stop", "take_profit"}
    assert any(e["kind"] == "exit" for e in story["log"])
    assert "exit: manual" in story_text(story)
    assert story["pnl"]["r"] is not None and story["pnl"]["net"] == str(trip.pnl)
