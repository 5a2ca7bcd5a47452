"""The offline replay (`tapedesk demo`) and Binance's demo-trading environment
(`--demo-trading`) never share a word: the console script as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("tapedesk")


def tapedesk(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.skip(f"no tapedesk console script beside {sys.executable} (pip install -e .)")
    env = {**os.environ, "TAPEDESK_HOME": str(tmp_path / "home"),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize("argv", [["--demo"], ["--demo", "run", "--headless"],
                                  ["keys", "check", "--demo"], ["--demo=1"]])
def test_the_old_demo_flag_is_one_line_naming_both_replacements(argv, tmp_path):
    run = tapedesk(*argv, tmp_path=tmp_path)
    assert run.returncode == 2
    assert run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert line == ("tapedesk: --demo is now --demo-trading (Binance's demo-trading "
                    "environment); the offline replay is `tapedesk demo`")
    assert not (tmp_path / "home").exists()  # nothing was started or written


def test_help_spells_demo_trading_and_the_offline_demo_apart(tmp_path):
    top = tapedesk("--help", tmp_path=tmp_path).stdout
    assert "--demo-trading" in top and "demo-trading environment" in top
    assert "offline demo: replays the bundled real sample" in top
    keys = tapedesk("keys", "--help", tmp_path=tmp_path).stdout
    assert "--demo-trading" in keys and "--demo " not in keys


def test_an_unknown_keymap_id_stops_the_desk_before_it_opens(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[ui.keymap]\nemergncy_stop = "f12"\n')
    run = tapedesk("--config", str(cfg), "demo", tmp_path=tmp_path)
    assert run.returncode == 2
    (line,) = run.stderr.splitlines()
    assert line.startswith("tapedesk: config: ui.keymap.emergncy_stop: unknown binding id; "
                           "known ids: ")
    assert "emergency_stop" in line and "Traceback" not in run.stderr
    assert not list((tmp_path / "home").glob("*.db"))  # no journal: nothing started


def test_a_printable_emergency_stop_key_is_refused_in_one_line(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[ui.keymap]\nemergency_stop = "x"\n')
    run = tapedesk("--config", str(cfg), "demo", tmp_path=tmp_path)
    assert run.returncode == 2
    (line,) = run.stderr.splitlines()
    assert "ui.keymap.emergency_stop: 'x' is a printable key" in line


def test_the_old_config_key_warns_once_and_the_run_goes_on(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[binance]\ndemo = false\n")
    run = tapedesk("--config", str(cfg), "run", "--headless", "--replay", "sample:1m",
                   "--speed", "0", tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    warnings = [ln for ln in run.stderr.splitlines() if "deprecated" in ln]
    assert warnings == [f"tapedesk: warning: {cfg}: binance.demo is deprecated, write "
                        "binance.demo_trading (Binance's demo-trading environment; "
                        "`tapedesk demo` is the offline replay)"]
    assert "Summary (paper" in run.stdout


def test_renamed_flag_after_double_dash_is_left_alone():
    from tapedesk.engine.cli import renamed_flag

    assert renamed_flag(["run", "--", "--demo"]) is None
    assert renamed_flag(["demo"]) is None  # the offline replay command itself


def test_a_live_desk_on_testnet_or_demo_trading_gets_its_own_journal_name():
    from tapedesk.engine.assembly import desk_name
    from tapedesk.engine.cli import _desk_mode, build_parser
    from tapedesk.engine.config import BinanceConfig, DeskConfig

    p = build_parser()
    plain = DeskConfig()
    assert _desk_mode(p.parse_args(["--live", "--demo-trading"]), plain) == "demo-trading"
    assert _desk_mode(p.parse_args(["--live", "--testnet"]), plain) == "testnet"
    in_config = DeskConfig(binance=BinanceConfig(demo_trading=True))
    assert _desk_mode(p.parse_args(["--live"]), in_config) == "demo-trading"
    assert _desk_mode(p.parse_args(["--live"]), plain) == "live"
    assert _desk_mode(p.parse_args(["demo"]), in_config) == "demo"  # the offline replay
    assert _desk_mode(p.parse_args(["--demo-trading"]), plain) == "paper"  # paper money
    assert desk_name("live", "custom") == "live"  # a local exchange: treated as live


async def test_paper_on_demo_trading_data_is_paper_money_from_a_live_feed(tmp_path):
    from tapedesk.engine.assembly import build_paper_engine

    engine = build_paper_engine(tmp_path, demo_trading=True)
    snap = engine.snapshot()
    assert (snap.stake, snap.environment, snap.source) == ("PAPER", "demo-trading", "live feed")
    assert engine.journal.path.name == "paper.db"
    await engine.feed.close()
