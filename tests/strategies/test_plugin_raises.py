"""A user's plugin strategy that raises in a backtest: the run goes on without it, and the
user reads one line saying which strategy failed, with what, and where (the plugin's file
and line), not a traceback; ``--log-level debug`` shows the whole traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PLUGIN = '''
from tapedesk import Strategy, register


@register("breaks")
class Breaks(Strategy):
    def on_bar(self, bar):
        if bar.close > 0:
            return 1 / 0
'''


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "xdg" / "tapedesk" / "strategies"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "breaks.py").write_text(PLUGIN)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "TAPEDESK_HOME": str(tmp_path / "home")}
    return subprocess.run(["tapedesk", *extra, "backtest", "--data", "sample:1m",
                           "--strategy", "breaks"],
                          capture_output=True, text=True, env=env, timeout=120)


def test_a_plugin_that_raises_is_one_line_naming_its_file_and_line(tmp_path: Path) -> None:
    out = _run(tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    (line,) = [s for s in out.stderr.splitlines() if "strategy breaks failed" in s]
    assert "ZeroDivisionError: division by zero (breaks.py:9, in on_bar)" in line, line
    assert "STRATEGY breaks DISABLED: ZeroDivisionError" in out.stdout


def test_debug_logging_shows_the_traceback(tmp_path: Path) -> None:
    out = _run(tmp_path, "--log-level", "debug")
    assert out.returncode == 0, out.stderr
    assert "Traceback" in out.stderr and 'breaks.py", line 9, in on_bar' in out.stderr
