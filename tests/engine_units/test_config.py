"""Desk config from TOML: defaults for an empty file; every bad value named by its path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel
from tapedesk.engine.config import ConfigError, DeskConfig, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    return str(exc.value)


def test_an_empty_file_gives_the_rulebook_defaults(tmp_path):
    cfg = load_config(write(tmp_path, ""))
    assert cfg == DeskConfig()
    r = cfg.risk
    assert (r.max_trades_per_day, r.max_losing_trades_per_day, r.daily_loss_cap,
            r.daily_profit_lock, r.min_stop_pct, r.max_stop_pct, r.max_leverage,
            r.risk_per_trade_pct, r.day_roll_hour_utc) == (10, 4, Decimal(100), Decimal(75),
                                                           0.15, 0.35, 5, 0.3, 0)
    assert (cfg.paper.maker_fee_bps, cfg.paper.taker_fee_bps) == (2.0, 5.0)
    assert cfg.symbols == ["BTCUSDT"]


def test_valid_values_override_defaults_and_symbols_are_upper_cased(tmp_path):
    cfg = load_config(write(tmp_path, 'symbols = ["ethusdt"]\n[risk]\nmax_leverage = 10\n'
                                      'daily_loss_cap = "50.5"\n'))
    assert cfg.symbols == ["ETHUSDT"]
    assert cfg.risk.max_leverage == 10 and cfg.risk.daily_loss_cap == Decimal("50.5")


def test_max_leverage_200_is_refused_naming_the_field_and_the_range(tmp_path):
    msg = error_for(tmp_path, "[risk]\nmax_leverage = 200\n")
    assert "risk.max_leverage" in msg
    assert "125" in msg and "200" in msg
    assert str(tmp_path / "config.toml") in msg
    assert "Traceback" not in msg and "pydantic.dev" not in msg


@pytest.mark.parametrize(("toml", "path", "allowed"), [
    ("[risk]\nmax_leverage = 0", "risk.max_leverage", "greater than or equal to 1"),
    ("[risk]\nrisk_per_trade_pct = 0", "risk.risk_per_trade_pct", "greater than 0"),
    ("[risk]\nrisk_per_trade_pct = 5.5", "risk.risk_per_trade_pct", "less than or equal to 5"),
    ("[risk]\nmax_trades_per_day = -1", "risk.max_trades_per_day", "greater than or equal to 0"),
    ("[risk]\nmax_trades_per_day = 'ten'", "risk.max_trades_per_day", "valid integer"),
    ("[risk]\ndaily_loss_cap = -5", "risk.daily_loss_cap", "greater than 0"),
    ("[risk]\nday_roll_hour_utc = 24", "risk.day_roll_hour_utc", "less than or equal to 23"),
    ("[risk]\nstale_after_s = 0", "risk.stale_after_s", "greater than 0"),
    ("[paper]\ntaker_fee_bps = 101", "paper.taker_fee_bps", "less than or equal to 100"),
    ("[paper]\nfill_at = 'open'", "paper.fill_at", "'next-open'"),
    ("[paper]\nlatency_ms = -1", "paper.latency_ms", "greater than or equal to 0"),
    ("symbols = []", "symbols", "at least 1"),
    ("[risk]\nmargin_type = 'cross'", "risk.margin_type", "'isolated'"),
])
def test_each_bad_value_names_its_field_path_and_what_is_allowed(tmp_path, toml, path, allowed):
    msg = error_for(tmp_path, toml + "\n")
    assert f": {path}: " in msg
    assert allowed in msg


def test_an_unknown_field_is_named_as_unknown(tmp_path):
    msg = error_for(tmp_path, "[risk]\nmax_levrage = 3\n")
    assert "risk.max_levrage: unknown field" in msg


def test_an_unknown_section_is_named_as_unknown(tmp_path):
    assert "riskk: unknown field" in error_for(tmp_path, "[riskk]\nmax_leverage = 3\n")


def test_several_problems_are_listed_one_per_line(tmp_path):
    msg = error_for(tmp_path, "[risk]\nmax_leverage = 200\nmax_trades_per_day = -1\n")
    lines = msg.splitlines()
    assert len(lines) == 2
    assert any("risk.max_leverage" in ln for ln in lines)
    assert any("risk.max_trades_per_day" in ln for ln in lines)


@pytest.mark.parametrize(("lo", "hi"), [(0.4, 0.35), (0.35, 0.35)])
def test_min_stop_pct_must_be_below_max_stop_pct(tmp_path, lo, hi):
    msg = error_for(tmp_path, f"[risk]\nmin_stop_pct = {lo}\nmax_stop_pct = {hi}\n")
    assert ": risk: " in msg
    assert f"min_stop_pct ({lo}) must be below max_stop_pct ({hi})" in msg


def test_bad_toml_is_reported_as_not_valid_toml(tmp_path):
    msg = error_for(tmp_path, "[risk\nmax_leverage = 3\n")
    assert msg.startswith(f"{tmp_path / 'config.toml'}: not valid TOML")


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_no_path_and_no_xdg_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_config() == DeskConfig()
    (tmp_path / "tapedesk").mkdir()
    (tmp_path / "tapedesk" / "config.toml").write_text("[risk]\nmax_leverage = 2\n")
    assert load_config().risk.max_leverage == 2


def test_testnet_and_demo_trading_together_are_refused(tmp_path):
    msg = error_for(tmp_path, "[binance]\ntestnet = true\ndemo_trading = true\n")
    assert ": binance: " in msg and "testnet or demo_trading" in msg
    msg = error_for(tmp_path, "[binance]\ntestnet = true\ndemo = true\n")  # the old name too
    assert ": binance: " in msg and "testnet or demo_trading" in msg


def test_the_old_binance_demo_key_still_works_with_a_one_line_warning(tmp_path, capsys):
    path = tmp_path / "old.toml"
    path.write_text("[binance]\ndemo = true\n")
    assert load_config(path).binance.demo_trading is True
    (line,) = capsys.readouterr().err.splitlines()
    assert f"{path}: binance.demo is deprecated" in line and "demo_trading" in line
    path.write_text("[binance]\ndemo = true\ndemo_trading = false\n")
    msg = error_for(tmp_path, path.read_text())
    assert "binance: demo and demo_trading both set" in msg


def test_keymap_takes_binding_ids_to_key_strings(tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text('[ui.keymap]\nemergency_stop = "f12"\npause = "space"\n')
    assert load_config(path).ui.keymap == {"emergency_stop": "f12", "pause": "space"}
    msg = error_for(tmp_path, "[ui.keymap]\npause = 5\n")
    assert ": ui.keymap.pause: " in msg


def _fields(model: BaseModel) -> list[tuple[str, type, object]]:
    return [(k, type(v), v) for k, v in model.__dict__.items()]


def test_the_unvalidated_defaults_are_the_validated_ones(tmp_path, monkeypatch):
    """No config file: load_config builds the defaults with model_construct (no schema is
    built for a run that never validates). Each section, and the whole, must hold exactly
    what validating an empty table gives: same values, same types, same fields set."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    built, checked = load_config(), DeskConfig.model_validate({})
    assert repr(built) == repr(checked) and built.model_fields_set == checked.model_fields_set
    for name in DeskConfig.model_fields:
        mine, theirs = getattr(built, name), getattr(checked, name)
        pairs = zip(mine, theirs, strict=True) if isinstance(mine, list) else [(mine, theirs)]
        for a, b in pairs:
            if not isinstance(a, BaseModel):
                assert (type(a), a) == (type(b), b), name
                continue
            assert _fields(a) == _fields(b), name
            assert _fields(a) == _fields(type(a).model_validate(b.model_dump())), name
    paper = built.paper.model_copy()
    with pytest.raises(ConfigError) as exc:  # a deferred model still checks assignments
        paper.taker_fee_bps = -1
    assert str(exc.value) == (
        "paper.taker_fee_bps: Input should be greater than or equal to 0, got -1")
