"""`tapedesk backtest` loads the user's plugin strategies when the run may use one (a name
that is not a built-in, or `all`) and reports a broken plugin then; a run of built-ins
only does not load them (a plugin cannot take a built-in's name), so it pays nothing for
them. Console-script runs with the plugin folder in a temporary XDG config dir."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

PLUGIN = """
from pathlib import Path

from tapedesk.engine.events import Side, Signal
from tapedesk.engine.strategy import Strategy, register

Path({marker!r}).write_text("imported")


@register("always_long")
class AlwaysLong(Strategy):
    def on_bar(self, bar):
        return Signal(self.name, bar.symbol, Side.LONG, bar.ts, bar.close, bar.close * 0.99,
                      0.0, reasons=["always long"])
"""


@pytest.fixture
def desk(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """(env, data file, marker file): the plugin folder holds a good and a broken plugin;
    the good one writes ``marker`` when it is imported."""
    folder = tmp_path / "xdg" / "tapedesk" / "strategies"
    folder.mkdir(parents=True)
    marker = tmp_path / "imported"
    (folder / "always_long.py").write_text(textwrap.dedent(PLUGIN.format(marker=str(marker))))
    (folder / "broken.py").write_text("import no_such_module_anywhere\n")
    rows = ["timestamp,open,high,low,close,volume"]
    for i in range(300):
        price = 30_000 + (i % 40) * 10
        rows.append(f"{1_700_000_000_000 + i * 60_000},{price},{price + 15},{price - 15},"
                    f"{price + 5},1.5")
    data = tmp_path / "bars.csv"
    data.write_text("\n".join(rows) + "\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "TAPEDESK_HOME": str(tmp_path / "home")}
    return env, data, marker


def _backtest(env: dict[str, str], data: Path, strategy: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tapedesk", "backtest", "--data", str(data), "--no-progress",
                           "--strategy", strategy, "--no-risk", "--fixed-qty", "0.01"],
                          capture_output=True, text=True, env=env, timeout=60)


def test_a_run_naming_a_plugin_loads_the_plugins_and_reports_the_broken_one(desk):
    env, data, marker = desk
    out = _backtest(env, data, "always_long")
    assert out.returncode == 0, out.stderr
    assert marker.exists()
    assert "always_long" in out.stdout and "Traceback" not in out.stderr
    assert "warning:" in out.stderr and "broken.py was not loaded: ModuleNotFoundError" in out.stderr


def test_all_includes_the_plugin_strategies(desk):
    env, data, marker = desk
    out = _backtest(env, data, "all")
    assert out.returncode == 0, out.stderr
    assert marker.exists() and "always_long" in out.stdout
    assert "broken.py was not loaded" in out.stderr


def test_a_run_of_builtins_only_does_not_load_the_plugins(desk):
    env, data, marker = desk
    out = _backtest(env, data, "ema_cross")
    assert out.returncode == 0, out.stderr
    assert not marker.exists()
    assert "warning:" not in out.stderr and "result saved to" in out.stdout
