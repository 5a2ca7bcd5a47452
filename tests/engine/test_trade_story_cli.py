"""`tapedesk trades --id N` against a journal the real `tapedesk` command wrote: a short
headless replay makes trades, then what the story prints is checked against the journal's
own rows (trade, decision, fills, orders). Plus a journal written by the previous schema
(v2, no position ids): read by the CLI as it is, and migrated by a desk that opens it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from tapedesk.engine import explanations as say
from tapedesk.engine.journal import MIGRATIONS, Journal
from tapedesk.engine.trade_story import load_story

from tests.engine.helpers import write_sample_csv
from tests.engine.test_desk_cli import home, td  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """One day of real bars replayed headless by the console script into a fresh journal."""
    import os

    tmp = tmp_path_factory.mktemp("story")
    env = dict(os.environ)
    env.pop("TAPEDESK_HOME", None)
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        env[var] = str(tmp / var.lower())
    data = write_sample_csv(tmp / "b.csv", days=1)
    ddir = tmp / "d"
    run = td(env, "--data-dir", str(ddir), "run", "--headless", "--replay", str(data),
             "--speed", "0")
    assert run.returncode == 0, run.stderr
    return env, ddir


def _rows(ddir: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{ddir / 'paper.db'}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_trades_lists_the_ids_that_id_takes(replayed) -> None:
    env, ddir = replayed
    listed = json.loads(td(env, "--data-dir", str(ddir), "trades", "--json").stdout)
    journal = _rows(ddir, "SELECT id, exit_ts, pnl FROM trades ORDER BY exit_ts, id")
    assert len(journal) >= 2, "the replay must make trades for this test to mean anything"
    assert [(r["id"], r["exit_ts"], r["pnl"]) for r in listed] == journal
    text = td(env, "--data-dir", str(ddir), "trades").stdout.splitlines()
    assert [line.split()[0] for line in text[: len(journal)]] == [f"#{r[0]}" for r in journal]


def test_story_text_and_json_match_the_journal_rows(replayed) -> None:
    env, ddir = replayed
    for tid, pid, reason, pnl in _rows(ddir, "SELECT id, position_id, reason, pnl FROM trades"):
        assert pid, "a trade journaled under schema v3 names its position"
        out = td(env, "--data-dir", str(ddir), "trades", "--id", str(tid))
        assert out.returncode == 0, out.stderr
        text = out.stdout
        assert text.startswith(f"Trade #{tid} ")
        assert f"exit: {reason}" in text
        assert f"net {say.signed_money(Decimal(pnl))}" in text
        fills = _rows(ddir, "SELECT ts, role, side, qty, price, fee, liquidity FROM fills "
                      "WHERE position_id = ? ORDER BY ts, id", (pid,))
        assert {f[1] for f in fills} >= {"entry"} and len(fills) >= 2  # in and out
        for _ts, role, side, qty, price, fee, liq in fills:
            line = (f"{role:<11} {side:<4} {qty} @ {say.price(Decimal(price))}  "
                    f"fee {say.money(Decimal(fee))} ({liq})")
            assert line in text, line
        (numbers, dec_text), = _rows(
            ddir, "SELECT numbers, text FROM decisions WHERE position_id = ? AND kind = 'entry'",
            (pid,))
        for why in json.loads(numbers)["reasons"]:
            assert f"why: {why}" in text
        stops = _rows(ddir, "SELECT stop_price FROM orders WHERE position_id = ? AND role = "
                      "'stop'", (pid,))
        assert stops and all(f"stop   {say.price(Decimal(s))}" in text for (s,) in stops)

        doc = json.loads(td(env, "--data-dir", str(ddir), "trades", "--id", str(tid),
                            "--json").stdout)
        assert doc["id"] == tid and doc["linked"] is True and doc["missing"] == []
        assert doc["exit"]["reason"] == reason and doc["pnl"]["net"] == pnl
        assert [(f["ts"], f["role"], f["side"], f["qty"], f["price"], f["fee"], f["liquidity"])
                for f in doc["fills"]] == fills
        assert doc["decision"]["accepted"] is True and doc["decision"]["text"] == dec_text
        assert len(doc["orders"]) == len(_rows(
            ddir, "SELECT 1 FROM orders WHERE position_id = ?", (pid,)))
        explained = _rows(ddir, "SELECT text FROM explanations WHERE position_id = ? "
                          "ORDER BY id", (pid,))
        assert [e["text"] for e in doc["log"]] == [t for (t,) in explained]
        assert any(e["kind"] == "exit" for e in doc["log"])


def test_unknown_id_is_one_line_and_exit_2(replayed) -> None:
    env, ddir = replayed
    out = td(env, "--data-dir", str(ddir), "trades", "--id", "9999")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "no trade #9999" in out.stderr


def _v2_journal(path: Path) -> None:
    """A journal as the previous schema (v2) wrote it: one closed trade and its two fills."""
    conn = sqlite3.connect(path)
    conn.executescript(f"BEGIN; {MIGRATIONS[0]}; {MIGRATIONS[1]}; PRAGMA user_version=2; COMMIT;")
    conn.execute(
        "INSERT INTO trades (symbol, side, qty, entry_price, exit_price, entry_ts, exit_ts, "
        "gross_pnl, fees, funding, pnl, strategy, reason, risk_amount) VALUES "
        "('BTCUSDT', 'long', '0.010', '47000.0', '47100.0', 1641168000000, 1641171600000, "
        "'1.000', '0.40', '0', '0.60', 'ema_cross', 'take-profit', '1.50')")
    for cid, ts, side, px, role, liq in (
        ("e1", 1641168000000, "BUY", "47000.0", "entry", "taker"),
        ("t1", 1641171600000, "SELL", "47100.0", "take_profit", "maker"),
        ("x9", 1641200000000, "BUY", "48000.0", "entry", "taker"),  # a later trade's
    ):
        conn.execute("INSERT INTO fills (client_id, seq, trade_id, ts, symbol, side, qty, "
                     "price, fee, liquidity, role) VALUES (?, 1, '', ?, 'BTCUSDT', ?, '0.010', "
                     "?, '0.20', ?, ?)", (cid, ts, side, px, liq, role))
    conn.commit()
    conn.close()


def test_a_v2_journal_is_read_as_it_is_and_says_what_is_missing(tmp_path, home) -> None:  # noqa: F811
    ddir = tmp_path / "d"
    ddir.mkdir(mode=0o700)
    _v2_journal(ddir / "paper.db")
    listed = td(home, "--data-dir", str(ddir), "trades", "--mode", "paper")
    assert listed.returncode == 0 and listed.stdout.startswith("#1 "), listed.stderr
    out = td(home, "--data-dir", str(ddir), "trades", "--mode", "paper", "--id", "1")
    assert out.returncode == 0, out.stderr
    assert "exit: take-profit" in out.stdout and "MISSING" in out.stdout
    assert "before trades were linked" in out.stdout
    assert "take_profit SELL 0.010 @ 47,100.0" in out.stdout and "48,000.0" not in out.stdout
    version = _rows(ddir, "PRAGMA user_version")[0][0]
    assert version == 2, "a reader never migrates a journal"


def test_a_desk_opening_a_v2_journal_migrates_it_and_keeps_old_trades_readable(tmp_path) -> None:
    path = tmp_path / "paper.db"
    _v2_journal(path)

    async def go() -> dict:
        j = Journal(path)
        await j.open()
        try:
            return await load_story(j, 1)
        finally:
            await j.close()

    story = asyncio.run(go())
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    for table in ("trades", "decisions", "orders", "fills", "explanations"):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        assert "position_id" in cols, table
    conn.close()
    assert story["linked"] is False and story["position_id"] == ""
    assert [f["price"] for f in story["fills"]] == ["47000.0", "47100.0"]
    assert all(f["matched_by"] == "symbol and time" for f in story["fills"])
    assert story["signal"] is None and story["decision"] is None
    assert story["missing"] and story["pnl"]["r"] == 0.4
