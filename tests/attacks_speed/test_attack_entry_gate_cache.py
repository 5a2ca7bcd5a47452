"""Engine.process reads one cached gate (``_shut``) instead of the risk gate and the journal's
gate (fifth pass, decide-five): kept by the two setters. Attacked with random sequences of
what closes and opens them on a paper desk — pause/resume, the emergency stop and its
lifting, the journal failing and healing (as engine.commit writes it) — with one strategy
(the path without the loop) and with two: after every step a bar is processed and the
strategies must have been asked exactly when both gates are open."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from tapedesk.engine.clock import EventClock
from tapedesk.engine.config import DeskConfig, RiskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.paper_venue import PaperVenue

from tests.engine_units._helpers import ScriptedStrategy, bar


class Second(ScriptedStrategy):
    name = "second"


async def _session(seed: int, strategies: int) -> None:
    rnd = random.Random(seed)
    strats = [ScriptedStrategy(), Second()][:strategies]
    eng = Engine(config=DeskConfig(symbols=["ETHUSDT"], risk=RiskConfig()),
                 venue=PaperVenue(Decimal(10_000)), strategies=strats,
                 clock=EventClock(), mode="paper")
    for i in range(80):
        step = rnd.choice(("pause", "resume", "halt", "lift", "journal_fails", "journal_heals",
                           "bar"))
        if step == "pause":
            await eng.pause()
        elif step == "resume":
            await eng.resume()
        elif step == "halt":
            await eng._set_flag("halted", True, "halted (test)")
        elif step == "lift":
            await eng.resume_from_halt()
        elif step == "journal_fails":
            eng._journal_gate = "journal error: disk full"  # engine.commit's own write
        elif step == "journal_heals":
            eng._journal_gate = ""
        before = [s.calls for s in strats]
        eng.process(bar(i, 2000, 2001, 1999, 2000))
        asked = [s.calls - b for s, b in zip(strats, before, strict=True)]
        open_ = not eng.paused and not eng.halted and not eng._journal_gate
        assert asked == [int(open_)] * strategies, (seed, i, step, eng._gate, eng._journal_gate)
        assert bool(eng._shut) == (not open_)


@pytest.mark.parametrize("strategies", [1, 2])
@pytest.mark.parametrize("seed", range(6))
async def test_strategies_are_asked_only_while_both_entry_gates_are_open(seed: int,
                                                                         strategies: int) -> None:
    await _session(seed, strategies)
