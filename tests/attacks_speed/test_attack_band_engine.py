"""The paper venue now drops its trigger bands when it changes its orders or a position
(``PaperVenue._changed``) instead of comparing a version on every event. A path that
changes them without ``_changed`` leaves a stale band, and a stop, target, limit or
liquidation inside it is skipped. tests/attacks_speed/test_trigger_band.py drives the venue
with a passive sink; here the real engine reacts inside the venue's callbacks (stops and
targets placed from a fill, protection cancelled when a position closes, reversals, a
flatten at the end) — through the console script, the same backtest with the band and with
a venue that checks every order on every event must print the very same JSON."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_RUN = """
import sys
if sys.argv[1] == "no-band":
    from tapedesk.engine.paper_triggers import _ANY_PRICE
    from tapedesk.engine.paper_venue import PaperVenue
    PaperVenue._band = lambda self, sym: _ANY_PRICE
from tapedesk.tui.launch import main
sys.argv = ["tapedesk", *sys.argv[2:], "--no-progress", "--json"]
main()
"""

BT = "backtest"
CASES = {
    "stream_all": [BT, "--data", "sample:stream", "--strategy", "all"],
    "stream_all_no_margin": [BT, "--data", "sample:stream", "--strategy", "all", "--no-risk",
                             "--fixed-qty", "0.05", "--no-margin-check"],
    # Up to 50x on a small balance: entries refused by the venue for margin too.
    "week_all_50x": ["--config", "{cfg}", BT, "--data", "sample:1m", "--strategy", "all",
                     "--no-risk", "--fixed-qty", "0.1", "--initial-balance", "200",
                     "--from", "2022-01-03", "--to", "2022-01-10"],
    "week_ema_reverse_close": [BT, "--data", "sample:1m", "--strategy", "ema_cross", "--param",
                               "reverse=true", "--fill-at", "close", "--from", "2022-01-10",
                               "--to", "2022-01-17"],
}


def _run(mode: str, args: list[str]) -> str:
    out = subprocess.run([sys.executable, "-c", _RUN, mode, *args], capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_band_never_changes_a_backtest_the_engine_drives(case: str, tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("[risk]\nmax_leverage = 50\n")
    args = [a.replace("{cfg}", str(cfg)) for a in CASES[case]]
    banded, plain = _run("band", args), _run("no-band", args)
    assert '"fills": 0,' not in plain  # the run trades
    assert banded == plain
