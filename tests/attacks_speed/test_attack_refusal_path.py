"""Attacks on the faster signal -> verdict -> order path (branch refusal-path): an accepted
entry's Decision made when first read (``Acceptance``), a margin/minimums refusal kept as its
fields (``Refusal.line``), leverage at/over the cap from one comparison, 8,192 kept entry
prices (grid and user strategies: test_attack_refusal_strategies.py).

Oracles are never the engine's own code: the verdicts are checked against the rules as
docs/configuration.md states them (worked out here by hand), lazily read words against an
eager ``vet`` on a fresh engine, and the journal of a paper and a live desk against what
the user read."""

from __future__ import annotations

import json
import math
import re
import shutil
import sqlite3
import subprocess
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tapedesk.engine import explanations as say
from tapedesk.engine.config import RiskConfig
from tapedesk.engine.events import Decision, Side, Signal, SignalKind
from tapedesk.engine.risk import (
    Acceptance,
    DayCounters,
    Refusal,
    RiskEngine,
    refusal_line,
    taken_line,
)
from tapedesk.engine.symbols import SymbolSpec

from tests.engine.helpers import write_sample_csv
from tests.local_exchange.desk import desk_keyring

__all__ = ["desk_keyring"]  # the fixture

# Two symbols sharing prices but not tick/step sizes: a kept entry price must serve both.
_SPECS = (
    SymbolSpec("BTCUSDT", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), Decimal("100")),
    SymbolSpec("XYZUSDT", Decimal("0.0001"), Decimal("0.25"), Decimal("0.5"), Decimal("100")),
)


def _hand_verdict(q: Decimal, entry: float, spec: SymbolSpec, equity: Decimal,
                  available: Decimal, cap: int) -> tuple[str, Decimal, int]:
    """docs/configuration.md: qty rounded down to the step; leverage the smallest whole
    number that carries the notional on the equity, at most the cap (1x without equity);
    refused under the minimum quantity or notional, then when the margin (notional /
    leverage) exceeds what is available."""
    qty = (q / spec.step_size).to_integral_value(ROUND_DOWN) * spec.step_size
    notional = qty * Decimal(repr(entry))
    lev = 1 if equity <= 0 else min(cap, max(1, math.ceil(notional / equity)))
    if qty < spec.min_qty or notional < spec.min_notional:
        return "exchange_minimums", qty, lev
    if notional / lev > available:
        return "margin_available", qty, lev
    return "accepted", qty, lev


def _where(spec: SymbolSpec, equity: Decimal, available: Decimal) -> dict:
    return dict(day=DayCounters("d"), equity=equity, available=available, spec=spec,
                has_position=False, has_pending=False)


@st.composite
def _entries(draw):
    """An entry at the edges: qty on a step boundary (or just off it), notional exactly at
    the 100 USDT minimum (or a cent either side), equity putting notional / equity exactly
    at the cap, a fraction under or over it, or exactly 1x."""
    spec = draw(st.sampled_from(_SPECS))
    cap = draw(st.sampled_from([1, 2, 3, 5, 20, 125]))
    steps = draw(st.integers(1, 400))
    q = steps * spec.step_size + draw(st.sampled_from(
        [Decimal(0), spec.step_size / 2, spec.step_size - Decimal("1e-9"), Decimal("-1e-9")]))
    qty = (q / spec.step_size).to_integral_value(ROUND_DOWN) * spec.step_size
    if qty <= 0:
        q = qty = spec.step_size * steps
    at_min = float((Decimal(100) / qty).quantize(Decimal("0.0001")))
    entry = draw(st.one_of(
        st.sampled_from([at_min, at_min + 0.0001, max(at_min - 0.0001, 0.0001), 50_000.0]),
        st.floats(0.01, 200_000.0, allow_nan=False, allow_infinity=False)))
    notional = qty * Decimal(repr(entry))
    per = draw(st.sampled_from([Decimal(cap), Decimal(cap) - Decimal("0.5"), Decimal(2),
                                Decimal(max(1, cap - 1)),
                                Decimal(cap) + Decimal("0.001"), Decimal(1), Decimal("0.5"),
                                Decimal(cap) * 7]))
    equity = draw(st.one_of(st.just((notional / per).quantize(Decimal("0.01"))),
                            st.sampled_from([Decimal(0), Decimal(-3), notional])))
    need = notional / max(1, cap)
    available = draw(st.sampled_from([equity, need, need - Decimal("0.01"), Decimal(10) ** 9]))
    side = draw(st.sampled_from([Side.LONG, Side.SHORT]))
    stop = draw(st.sampled_from([0.0, 0.0025]))
    stop_loss = entry * (1 - stop * side.sign) if stop else 0.0
    return spec, cap, q, entry, equity, available, Signal("s", spec.symbol, side, 1, entry,
                                                          stop_loss)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_entries(), min_size=1, max_size=6))
def test_fixed_qty_verdicts_follow_the_documented_rules_and_read_late_as_vetted(cases):
    """One engine (its entry prices kept across symbols) for a run of entries; every
    verdict's rule, qty and leverage as the documented rules give them; every Decision
    and line, read only after all later verdicts, as a fresh engine's eager vet words it."""
    kept = []
    engines: dict[tuple, RiskEngine] = {}
    for spec, cap, q, entry, equity, available, sig in cases:
        cfg = RiskConfig(max_leverage=cap)
        risk = engines.setdefault((cap, q), RiskEngine(cfg, enabled=False, fixed_qty=q))
        got = risk.verdict(sig, **_where(spec, equity, available))
        rule, qty, lev = _hand_verdict(q, entry, spec, equity, available, cap)
        assert got.rule == rule, (got.rule, rule, qty, entry, equity, available, cap)
        if rule == "accepted":
            assert type(got) is Acceptance and (got.qty, got.leverage) == (qty, lev)
        else:
            assert type(got) is Refusal
        fresh = RiskEngine(cfg, enabled=False, fixed_qty=q).vet(
            sig, **_where(spec, equity, available))
        kept.append((got, got.line() if type(got) is Refusal else None, equity, fresh))
    for got, line, equity, fresh in reversed(kept):
        if line is not None:
            assert refusal_line(*line) == say.refused(fresh)
        else:
            assert taken_line(got, equity, 0.3) == say.taken(fresh, equity, 0.3)
        dec = got.decision()
        assert (dec.accepted, dec.qty, dec.leverage, dec.rule, dec.text, dec.passed,
                list(dec.numbers.items())) == (fresh.accepted, fresh.qty, fresh.leverage,
                                               fresh.rule, fresh.text, fresh.passed,
                                               list(fresh.numbers.items()))


def test_leverage_exactly_at_the_cap_and_a_hair_under_it():
    """notional / equity == cap is the cap; a hair over cap - 1 rounds up to the cap too;
    exactly cap - 1 is cap - 1 (the whole leverage that just carries it)."""
    spec = _SPECS[0]
    sig = Signal("s", "BTCUSDT", Side.LONG, 1, 50_000.0)
    risk = RiskEngine(RiskConfig(max_leverage=5), enabled=False, fixed_qty=Decimal("0.01"))
    for equity, want in ((Decimal(100), 5), (Decimal("99.99"), 5), (Decimal(125), 4),
                         (Decimal("124.99"), 5), (Decimal(500), 1), (Decimal("499.99"), 2)):
        got = risk.verdict(sig, **_where(spec, equity, Decimal(10_000)))
        assert type(got) is Acceptance and got.leverage == want, (equity, got.leverage)


@pytest.mark.skipif(shutil.which("tapedesk") is None, reason="console script not installed")
def test_a_headless_replay_journals_each_verdict_as_the_user_read_it(tmp_path: Path) -> None:
    """A paper desk has a journal: every entry is worded and journaled when decided. What
    the user reads on stdout, the journal's explanations and its decision rows agree, and
    the numbers are the documented rules' (stop %, notional vs the 100 USDT minimum)."""
    data = write_sample_csv(tmp_path / "btc.csv", days=2)
    cfg = tmp_path / "config.toml"
    cfg.write_text('[paper]\ninitial_balance = 170\n\n[[strategies]]\nname = "grid"\n'
                   'enabled = true\n\n[[strategies]]\nname = "ema_cross"\nenabled = true\n')
    out = subprocess.run(
        ["tapedesk", "--config", str(cfg), "--data-dir", str(tmp_path / "home"), "run",
         "--headless", "--replay", str(data), "--speed", "0"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    took = [ln for ln in out.stdout.splitlines() if "Took " in ln]
    refused = [ln for ln in out.stdout.splitlines() if "Refused " in ln]
    assert len(took) >= 3 and len(refused) >= 100, out.stdout[-2000:]
    with sqlite3.connect(tmp_path / "home" / "paper.db") as db:
        rows = db.execute("SELECT accepted, rule, text, numbers, kind FROM decisions "
                          "ORDER BY id").fetchall()
        said = [t for (t,) in db.execute("SELECT text FROM explanations ORDER BY id")]
    shown = [re.sub(r"^.*?(Took |Refused )", r"\1", ln) for ln in out.stdout.splitlines()
             if "Took " in ln or "Refused " in ln]
    assert [s for s in said if s.startswith(("Took ", "Refused "))] == shown
    entries = [(a, r, t, json.loads(n)) for a, r, t, n, k in rows if k == "entry"]
    accepted = [e for e in entries if e[0]]
    assert len(accepted) == len(took)
    for (_a, _r, _t, n), line in zip(accepted, took, strict=True):
        stop_pct = abs(n["entry"] - n["stop_loss"]) / n["entry"] * 100
        assert n["stop_pct"] == pytest.approx(stop_pct, rel=1e-12)
        assert f"({stop_pct:.2f} %)" in line and f" {n['qty']} @" in line
        assert n["passed"][-2:] == ["exchange_minimums", "margin_available"]
        assert Decimal(n["qty"]) * Decimal(repr(n["entry"])) >= 100
        assert Decimal(n["notional"]) == Decimal(n["qty"]) * Decimal(repr(n["entry"]))
    small = [e for e in entries if e[1] == "exchange_minimums"]
    assert len(small) >= 100
    for _a, _r, text, n in small:
        notional = Decimal(n["notional"])
        assert notional < 100 and text == f"notional {notional:.2f} USDT is below the minimum 100"
        # The quantity the rules refused, not the refusal's qty 0 (it was overwritten).
        assert Decimal(n["qty"]) > 0
        assert Decimal(n["qty"]) * Decimal(repr(n["entry"])) == notional
        assert "exchange_minimums" not in n["passed"] and "risk_amount" in n


def test_an_exit_decision_is_never_wrapped():
    """Exits stay plain Decisions (never deferred): the desk closes on them at once."""
    risk = RiskEngine(RiskConfig())
    sig = Signal("s", "BTCUSDT", Side.LONG, 1, 50_000.0, kind=SignalKind.EXIT)
    got = risk.verdict(sig, **_where(_SPECS[0], Decimal(100), Decimal(100)))
    assert type(got) is Decision and got.accepted and got.rule == "exit"


@pytest.mark.keyring
async def test_a_live_desk_journals_an_accepted_entry_worded_in_full(
        tmp_path: Path, desk_keyring: dict[str, str]) -> None:
    """``tapedesk --live run --headless`` against the local exchange: the entry's Decision is
    made at once (journal present), its row holds the sizing numbers and passes, and what
    the user read says the same quantity, stop distance and leverage."""
    from tests.local_exchange import Behaviour, LocalExchange
    from tests.local_exchange.desk import KEY, SECRET, Desk, Heartbeat, write_config

    ex = LocalExchange(api_key=KEY, api_secret=SECRET, behaviour=Behaviour.binance())
    ex.behaviour.market_split = []
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: "Took long BTCUSDT" in desk.output(), 20, "the entry")
            await desk.wait_for(lambda: _journaled_entry(desk.data_dir / "live.db"), 20,
                                "the decision journaled")
    finally:
        await desk.stop()
        await ex.stop()
    n = _journaled_entry(desk.data_dir / "live.db")
    assert n["passed"][-2:] == ["exchange_minimums", "margin_available"], n
    assert n["stop_pct"] == pytest.approx(0.2, rel=1e-9) and Decimal(n["risk_amount"]) > 0
    assert Decimal(n["notional"]) == Decimal(n["qty"]) * Decimal(repr(n["entry"]))
    took = next(ln for ln in desk.output().splitlines() if "Took long BTCUSDT" in ln)
    assert f" {n['qty']} @" in took and "(0.20 %)" in took and f"{n['leverage']}x" in took
    assert Decimal(n["qty"]) == ex.account.positions["BTCUSDT"].amount


def _journaled_entry(db: Path) -> dict | None:
    if not db.exists():
        return None
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT numbers FROM decisions WHERE kind = 'entry' AND accepted = 1"
                           " ORDER BY id LIMIT 1").fetchone()
    return json.loads(row[0]) if row else None
