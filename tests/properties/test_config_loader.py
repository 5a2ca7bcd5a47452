"""The config loader under hypothesis-made TOML files (500+ per run).

A config file either loads into a ``DeskConfig`` whose strategies can be built and whose
paper venue and risk rules can be constructed, or is refused with a ``ConfigError`` whose every
line names the file and a field path (or says it is not TOML / not UTF-8). Strategy names and
parameters are refused at start by the same check as ``--param``, with the known names listed.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tapedesk.engine.assembly import build_strategies, paper_venue
from tapedesk.engine.config import ConfigError, DeskConfig, load_config
from tapedesk.engine.risk import RiskEngine
from tapedesk.engine.strategy import StrategyError, available

HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20), st.floats(),
    st.text(max_size=8), st.lists(st.integers(), max_size=2),
    st.sampled_from(["NaN", "inf", "-1", "1e400", "", "x", "0.3", "ema_cross", "BTCUSDT"]),
)
FIELDS = {
    "risk": ["risk_per_trade_pct", "max_trades_per_day", "max_losing_trades_per_day",
             "daily_loss_cap", "daily_profit_lock", "max_leverage", "margin_type", "min_stop_pct",
             "max_stop_pct", "stale_after_s", "day_roll_hour_utc", "max_levrage"],
    "paper": ["initial_balance", "maker_fee_bps", "taker_fee_bps", "slippage_bps", "latency_ms",
              "assumed_funding_bps_8h", "fill_at", "typo"],
    "binance": ["testnet", "demo", "rest_url", "ws_url", "recv_window_ms"],
    "ui": ["theme", "bell", "fps"],
}
GOOD = {
    "risk_per_trade_pct": st.floats(0.01, 5), "max_trades_per_day": st.integers(0, 50),
    "max_leverage": st.integers(1, 125), "daily_loss_cap": st.sampled_from(["50", "100.5", 100]),
    "min_stop_pct": st.floats(0.01, 0.3), "max_stop_pct": st.floats(0.31, 5),
    "initial_balance": st.sampled_from([1000, "2500.5", 10_000]), "fill_at": st.sampled_from(
        ["auto", "close", "next-open", "quote"]), "fps": st.integers(1, 60),
    "testnet": st.booleans(), "demo": st.booleans(),
}


def toml_value(v: Any) -> str:
    """A TOML rendering of a JSON-like value (inline tables; nan/inf as TOML spells them)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}"
                                for k, x in v.items() if x is not None) + " }"
    return '""'


@st.composite
def value_for(draw: st.DrawFn, field: str) -> Any:
    if field in GOOD and draw(st.integers(0, 3)):
        return draw(GOOD[field])
    return draw(HOSTILE)


@st.composite
def strategy_entries(draw: st.DrawFn) -> dict[str, Any]:
    names = sorted(available())
    pick = draw(st.integers(0, 9))
    name = (draw(st.sampled_from(names)) if pick < 7 else draw(
        st.sampled_from(["ema_crosss", "", "x"])) if pick < 9 else draw(HOSTILE))
    entry: dict[str, Any] = {"name": name}
    if isinstance(name, str) and name in names and draw(st.integers(0, 3)):
        params = sorted(available()[name].PARAMS)
        keys = draw(st.lists(st.one_of(st.sampled_from(params), st.text(max_size=5)),
                             max_size=3))
        entry["params"] = {k: draw(st.one_of(st.integers(1, 60), st.floats(0.01, 5), HOSTILE))
                           for k in keys}
    if draw(st.booleans()):
        entry["enabled"] = draw(st.booleans()) if draw(st.integers(0, 5)) else draw(HOSTILE)
    if draw(st.integers(0, 4)) == 0:
        entry["symbols"] = draw(st.lists(st.one_of(st.sampled_from(["btcusdt", "ETHUSDT"]),
                                                   st.text(max_size=6)), max_size=2))
    return entry


@st.composite
def configs(draw: st.DrawFn) -> str:
    doc: dict[str, Any] = {}
    for section, fields in FIELDS.items():
        if draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(fields), max_size=4, unique=True))
            doc[section] = {f: draw(value_for(f)) for f in chosen}
    if draw(st.booleans()):
        doc["symbols"] = draw(st.one_of(st.lists(st.sampled_from(["btcusdt", "ETHUSDT", "", "a b"]),
                                                 max_size=3), HOSTILE))
    if draw(st.booleans()):
        doc["strategies"] = draw(st.lists(strategy_entries(), max_size=3))
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.text(min_size=1, max_size=5))] = draw(HOSTILE)
    text = "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in doc.items()
                     if v is not None)
    if draw(st.integers(0, 14)) == 0:  # broken TOML now and then
        text = text[: draw(st.integers(0, len(text)))] + draw(st.sampled_from(["[", "=", '"']))
    return text + "\n"


@pytest.fixture(autouse=True)
def _no_user_plugins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))


def _check(path: Path) -> None:
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        event("refused: ConfigError")
        for line in str(exc).splitlines():
            assert line.startswith(f"{path}: ")
            rest = line[len(f"{path}: "):]
            assert rest.startswith(("not valid TOML", "not UTF-8")) or ": " in rest
        return
    assert isinstance(cfg, DeskConfig)
    try:
        build_strategies(cfg)
    except StrategyError as exc:
        event("refused: StrategyError")
        text = str(exc)
        assert "\n" not in text
        assert text.startswith(("config strategies[", "strategies["))
        return
    event("loaded and built")
    paper_venue(cfg)
    RiskEngine(cfg.risk)


@settings(max_examples=520, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(configs())
def test_every_generated_config_loads_or_is_refused_one_line_per_problem(text: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tapedesk-cfg-"))
    try:
        path = folder / "config.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _check(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(strategy_entries(), min_size=1, max_size=3))
def test_every_generated_strategies_list_builds_or_is_refused_in_one_line(
    entries: list[dict[str, Any]],
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tapedesk-cfg-"))
    try:
        path = folder / "config.toml"
        path.write_text(f"strategies = {toml_value(entries)}\n", encoding="utf-8",
                        errors="surrogatepass")
        _check(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_as_a_config_never_escape_as_anything_but_config_error(raw: bytes) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tapedesk-cfg-"))
    try:
        path = folder / "config.toml"
        path.write_bytes(raw)
        _check(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _strategies_error(tmp_path: Path, toml: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(StrategyError) as exc:
        build_strategies(load_config(path))
    return str(exc.value)


def test_a_misspelt_strategy_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    msg = _strategies_error(tmp_path, '[[strategies]]\nname = "ema_crosss"\n')
    assert msg.startswith("config strategies[0].name: unknown strategy 'ema_crosss'; available: ")
    assert "ema_cross" in msg and "mean_reversion" in msg


@pytest.mark.parametrize(("params", "expected"), [
    ("{ fastt = 3 }", "unknown parameter(s) fastt; known: fast (int), slow (int)"),
    ('{ fast = "x" }', "parameter fast='x' is not a whole number (int)"),
    ("{ fast = 2.5 }", "parameter fast=2.5 is not a whole number (int)"),
    ("{ stop_pct = nan }", "parameter stop_pct=nan is not a finite number (float)"),
    ("{ fast = inf }", "parameter fast=inf is not a whole number (int)"),
])
def test_bad_strategy_params_get_the_same_message_as_param(tmp_path: Path, params: str,
                                                           expected: str) -> None:
    msg = _strategies_error(tmp_path, f'[[strategies]]\nname = "ema_cross"\nparams = {params}\n')
    assert msg.startswith("config strategies[0].params: ema_cross: ")
    assert expected in msg


def test_a_disabled_strategy_with_a_bad_param_is_refused_too(tmp_path: Path) -> None:
    msg = _strategies_error(tmp_path, '[[strategies]]\nname = "grid"\nenabled = false\n'
                                      "params = { spacing = 1 }\n")
    assert "config strategies[0].params: grid: unknown parameter(s) spacing" in msg


def test_a_strategy_listed_twice_is_refused_with_its_field_path(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[strategies]]\nname = "grid"\n[[strategies]]\nname = "grid"\n')
    with pytest.raises(ConfigError, match=r"c\.toml: strategies: strategy 'grid' is listed more"):
        load_config(path)
