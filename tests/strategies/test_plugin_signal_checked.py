"""docs/strategies.md promises that a plugin returning a signal with its stop on the wrong
side is disabled with a message and the desk keeps running. The desk checks every plugin
signal (engine/strategy_roster.py) with the plugin rules: tested through the console script,
the way a user meets it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

WRONG_SIDE = '''
from tapedesk import Signal, Side, Strategy, register


@register("wrong_side")
class WrongSide(Strategy):
    """Longs with the stop ABOVE entry from its 30th bar on."""

    def __init__(self, symbols=None, **params):
        super().__init__(symbols, **params)
        self.n = 0

    def on_bar(self, bar):
        self.n += 1
        if self.n < 30:
            return None
        return Signal(self.name, bar.symbol, Side.LONG, bar.ts, bar.close,
                      bar.close * 1.002, reasons=["stop on the wrong side, on purpose"])
'''


def test_a_plugin_signal_with_its_stop_on_the_wrong_side_disables_it(tmp_path: Path) -> None:
    plugins = tmp_path / "xdg-config" / "tapedesk" / "strategies"
    plugins.mkdir(parents=True)
    (plugins / "wrong_side.py").write_text(WRONG_SIDE)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
           "TAPEDESK_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        ["tapedesk", "backtest", "--data", "sample:1m", "--no-progress", "--strategy",
         "wrong_side", "--no-risk", "--fixed-qty", "0.01", "--json"],
        capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    result = json.loads(out.stdout)
    assert result["metrics"]["trades"] == 0 and result["fills"] == 0
    assert any(label.startswith("STRATEGY wrong_side DISABLED: BadSignal: returned a long "
                                "Signal with its stop") and "on the wrong side" in label
               for label in result["labels"]), result["labels"]
    text = subprocess.run(
        ["tapedesk", "backtest", "--data", "sample:1m", "--no-progress", "--strategy",
         "wrong_side", "--no-risk", "--fixed-qty", "0.01"],
        capture_output=True, text=True, timeout=120, env=env)
    assert text.returncode == 0 and "Traceback" not in text.stderr, text.stderr[-2000:]
    assert "* STRATEGY wrong_side DISABLED: BadSignal: returned a long Signal" in text.stdout


def test_a_plugin_signal_is_handed_on_as_an_equal_copy() -> None:
    """Every field of a plugin's Signal reaches the desk unchanged (the copy is built
    positionally), in a new object the plugin can re-arm without touching it."""
    from tapedesk.engine.events import Side, Signal, SignalKind
    from tapedesk.engine.strategy_roster import _signal_copies

    reasons = ["why"]
    sig = Signal("mine", "ETHUSDT", Side.SHORT, 1_700_000_000_000, 2000.5, 2004.25, 1990.75,
                 0.8, reasons, SignalKind.REVERSE)
    got = _signal_copies(lambda _ev: sig)(None)
    assert got == sig and got is not sig and got.reasons is not reasons
    assert [getattr(got, f) for f in Signal.__slots__] == [getattr(sig, f) for f in Signal.__slots__]
