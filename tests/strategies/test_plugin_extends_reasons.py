"""A user strategy that subclasses a built-in and adds a reason of its own to the signals
it returns (``sig.reasons.append(...)``) kept working when the built-ins' reasons became
lazily worded (engine/reasons.py): run through the console script, it trades exactly as the
built-in does instead of being disabled at its first signal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = """
from tapedesk.engine.strategies.grid import Grid
from tapedesk.engine.strategy import register

@register("noted_grid")
class NotedGrid(Grid):
    def on_bar(self, bar):
        sig = super().on_bar(bar)
        if sig is not None:
            sig.reasons.append("noted by my plugin")
            sig.reasons.extend(["and once more"])
            assert sig.reasons[-2:] == ["noted by my plugin", "and once more"]
            assert (["first"] + sig.reasons)[0] == "first"
        return sig
"""


def _backtest(tmp_path: Path, strategy: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "TAPEDESK_HOME": str(tmp_path / "home")}
    args = ["--data", "sample:1m", "--strategy", strategy, "--no-risk", "--fixed-qty", "0.01",
            "--json"]
    return subprocess.run([sys.executable, "-m", "tapedesk", "backtest", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_a_plugin_appending_to_a_builtin_signals_reasons_trades_like_the_builtin(tmp_path):
    folder = tmp_path / "cfg" / "tapedesk" / "strategies"
    folder.mkdir(parents=True)
    (folder / "noted_grid.py").write_text(textwrap.dedent(PLUGIN))
    noted, plain = _backtest(tmp_path, "noted_grid"), _backtest(tmp_path, "grid")
    assert noted.returncode == 0 and plain.returncode == 0, noted.stderr + plain.stderr
    assert "disabled" not in noted.stdout + noted.stderr
    got, want = json.loads(noted.stdout), json.loads(plain.stdout)
    assert got["metrics"]["trades"] == want["metrics"]["trades"] > 0
    assert [t["pnl"] for t in got["trades"]] == [t["pnl"] for t in want["trades"]]
