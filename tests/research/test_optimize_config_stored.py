"""What a search stores of the desk config: the sections a trial's backtest uses ([risk],
[paper]), not URLs that may carry a password or a token. The study's storage is a file
(or a shared database) other machines' workers read: run through the console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tapedesk.engine.research import optimize as opt

from tests.research._search import write_slice

SCRIPT = Path(sys.executable).with_name("tapedesk")
SECRET = "S3cr3tT0ken"


@pytest.mark.skipif(not SCRIPT.exists(), reason="tapedesk console script missing")
def test_a_search_stores_risk_and_paper_and_no_url(tmp_path: Path):
    data = write_slice(tmp_path / "d.csv", days=1)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[binance]\nrest_url = "https://user:{SECRET}@proxy.example/fapi"\n'
                   f'[telegram]\napi_url = "https://api.telegram.org/bot123456:{SECRET}/"\n'
                   '[paper]\ninitial_balance = 5000\n[risk]\nmax_leverage = 3\n',
                   encoding="utf-8")
    home = tmp_path / "home"
    run = subprocess.run([str(SCRIPT), "--config", str(cfg), "--data-dir", str(home),
                          "optimize", "--strategy", "ema_cross", "--data", str(data),
                          "--param", "fast=3..6", "--trials", "1", "--jobs", "1",
                          "--min-trades", "0", "--study", "s"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for path in (home / "optimize").iterdir():
        assert SECRET not in path.read_text(encoding="utf-8"), path
    assert SECRET not in run.stdout + run.stderr
    spec = opt.load_spec(opt.open_storage(f"journal:{home / 'optimize' / 's.journal'}"), "s")
    assert set(spec.config) == {"risk", "paper"}
    assert spec.config["paper"]["initial_balance"] == "5000"  # what the trials run with
    assert spec.config["risk"]["max_leverage"] == 3
