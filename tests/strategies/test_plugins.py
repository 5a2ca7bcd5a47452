"""User strategies: a good one registers, a broken one is reported and skipped, and a
strategy that throws at run time is disabled with a message instead of crashing the desk."""

from __future__ import annotations

import textwrap

import pytest
import tapedesk.engine.strategy as registry
from tapedesk.engine.events import Bar, Side, Signal
from tapedesk.engine.strategy import Strategy, available, create
from tapedesk.engine.strategy_plugins import guard, load_plugins, plugin_dir


@pytest.fixture(autouse=True)
def clean_registry():
    before = dict(available())
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


GOOD = """
from tapedesk.engine.events import Side, Signal
from tapedesk.engine.strategy import Strategy, register

@register("always_long")
class AlwaysLong(Strategy):
    PARAMS = {"stop_pct": (float, 0.2, "stop distance %")}

    def on_bar(self, bar):
        stop = bar.close * (1 - self.params["stop_pct"] / 100)
        return Signal(self.name, bar.symbol, Side.LONG, bar.ts, bar.close, stop, 0.0,
                      reasons=["always long"])
"""


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))


def test_a_user_strategy_in_the_plugin_folder_is_registered(tmp_path):
    folder = plugin_dir(tmp_path)
    _write(folder, "always_long.py", GOOD)
    assert load_plugins([folder], use_entry_points=False) == []
    s = create("always_long", stop_pct="0.3")
    sig = s.on_bar(Bar("BTCUSDT", 0, 59_999, 100, 101, 99, 100))
    assert sig.side is Side.LONG and sig.stop_loss == pytest.approx(99.7)


def test_a_missing_plugin_folder_is_not_an_error(tmp_path):
    assert load_plugins([tmp_path / "nope"], use_entry_points=False) == []


def test_import_error_and_syntax_error_are_reported_and_the_rest_still_loads(tmp_path):
    folder = plugin_dir(tmp_path)
    _write(folder, "a_broken_import.py", "import no_such_module_anywhere\n")
    _write(folder, "b_bad_syntax.py", "def oops(:\n")
    _write(folder, "c_good.py", GOOD)
    _write(folder, "_private.py", "raise RuntimeError('never imported')\n")
    errors = load_plugins([folder], use_entry_points=False)
    assert len(errors) == 2
    assert "a_broken_import.py was not loaded: ModuleNotFoundError" in errors[0]
    assert "no_such_module_anywhere" in errors[0]
    assert "b_bad_syntax.py was not loaded: SyntaxError" in errors[1] and "line 1" in errors[1]
    assert "always_long" in available()


def test_a_plugin_cannot_replace_a_builtin_strategy(tmp_path):
    folder = plugin_dir(tmp_path)
    _write(
        folder,
        "impostor.py",
        """
        from tapedesk.engine.strategy import Strategy, register

        @register("grid")
        class Impostor(Strategy):
            pass
        """,
    )
    errors = load_plugins([folder], use_entry_points=False)
    assert errors and "tried to register 'grid', which already exists" in errors[0]
    assert available()["grid"].__name__ == "Grid"


def test_a_plugin_that_exits_at_import_does_not_take_the_desk_down(tmp_path):
    folder = plugin_dir(tmp_path)
    _write(folder, "quitter.py", "import sys\nsys.exit(3)\n")
    errors = load_plugins([folder], use_entry_points=False)
    assert "SystemExit" in errors[0]


class Exploding(Strategy):
    name = "exploding"

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.n = 0
        self.fail_at = fail_at

    def on_bar(self, bar):
        self.n += 1
        if self.n == self.fail_at:
            return 1 / 0
        return None


def _bars(n):
    return [Bar("BTCUSDT", i * 60_000, i * 60_000 + 59_999, 100, 101, 99, 100) for i in range(n)]


def test_an_exception_in_a_handler_disables_the_strategy_with_a_message():
    reported = []
    s = guard(Exploding(fail_at=3), on_error=lambda strat, msg: reported.append(msg))
    results = [s.on_bar(b) for b in _bars(6)]
    assert results == [None] * 6
    assert s.n == 3  # never called again after the fault
    assert len(reported) == 1
    assert reported[0].startswith(
        "strategy exploding disabled: ZeroDivisionError: division by zero"
    )
    assert "in on_bar" in reported[0] and "test_plugins.py:" in reported[0]
    assert s.disabled_reason == reported[0]
    assert s.handles("on_bar") and not s.handles("on_quote")  # the engine's dispatch still works


class WrongSideStop(Strategy):
    name = "wrong_side"

    def on_bar(self, bar):
        return Signal(self.name, bar.symbol, Side.LONG, bar.ts, 100.0, 101.0, 0.0, reasons=["x"])


def test_a_signal_with_its_stop_on_the_wrong_side_disables_the_strategy():
    reported = []
    s = guard(WrongSideStop(), on_error=lambda strat, msg: reported.append(msg))
    assert s.on_bar(_bars(1)[0]) is None
    assert "stop 101.0 on the wrong side" in reported[0]


def test_guarded_builtin_strategy_behaves_exactly_as_unguarded(bars_1m):
    plain = create("mean_reversion")
    wrapped = guard(create("mean_reversion"))
    bars = bars_1m[:8000]
    a = [plain.on_bar(b) for b in bars]
    b = [wrapped.on_bar(x) for x in bars]
    assert a == b and any(a)
    assert wrapped.disabled_reason == ""


def test_the_plugin_example_in_the_docs_loads_and_trades(tmp_path, bars_1m):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "strategies.md").read_text()
    section = doc.split("## Writing your own strategy", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    folder = plugin_dir(tmp_path)
    _write(folder, "breakout.py", code)
    assert load_plugins([folder], use_entry_points=False) == []
    s = guard(create("breakout"))
    sigs = [x for b in bars_1m[:5000] if (x := s.on_bar(b))]
    assert sigs and s.disabled_reason == ""
    assert sigs[0].reasons[0].startswith("Closed ") and "-bar high" in sigs[0].reasons[0]


def _fake_distribution(tmp_path, monkeypatch, entry_points: str, module_text: str) -> None:
    """An installed package as importlib.metadata sees it: a dist-info folder on sys.path."""
    dist = tmp_path / "site" / "tapedesk_user_pkg-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tapedesk-user-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(entry_points)
    (tmp_path / "site" / "tapedesk_user_mod.py").write_text(textwrap.dedent(module_text))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


def test_entry_point_strategies_are_registered_under_their_entry_point_name(tmp_path, monkeypatch):
    _fake_distribution(
        tmp_path,
        monkeypatch,
        "[tapedesk.strategies]\nfrom_pkg = tapedesk_user_mod:Quiet\n"
        "broken = tapedesk_user_mod:DoesNotExist\n",
        """
        from tapedesk.engine.strategy import Strategy

        class Quiet(Strategy):
            PARAMS = {"n": (int, 3, "how quiet")}
        """,
    )
    errors = load_plugins([], use_entry_points=True)
    assert "from_pkg" in available()
    assert create("from_pkg", n="5").params == {"n": 5}
    assert len(errors) == 1 and errors[0].startswith("entry point broken (tapedesk_user_mod")
    assert "AttributeError" in errors[0]


class BadStart(Strategy):
    name = "bad_start"

    def on_start(self, ctx):
        raise RuntimeError("needs a database it cannot find")

    def on_depth(self, depth):
        raise AssertionError("never reached once disabled")


def test_an_exception_in_on_start_disables_the_strategy_before_any_event():
    reported = []
    s = guard(BadStart(), on_error=lambda strat, msg: reported.append(msg))
    s.on_start(None)
    assert "RuntimeError: needs a database it cannot find" in reported[0]
    assert "in on_start" in reported[0]
    assert s.on_depth(object()) is None  # disabled: the handler is not even called
    assert len(reported) == 1


def test_guard_is_idempotent():
    s = create("grid")
    assert guard(guard(s)) is s
