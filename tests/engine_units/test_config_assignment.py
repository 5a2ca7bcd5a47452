"""A setting assigned from code (a settings screen, a command) is checked as a config file's
value is, and refused in the same words: the field path with its section and what is wrong.

The desk's config may come from a file (validated) or be the defaults (``model_construct``,
no schema built): both must refuse the same way, keep the old value, and never echo a
notification URL (it carries the service's token).
"""

from __future__ import annotations

import subprocess
import sys
import traceback
from decimal import Decimal
from pathlib import Path

import pytest
from tapedesk.engine import cli_errors
from tapedesk.engine.config import ConfigError, DeskConfig, load_config

SECRET = "S3cr3tT0ken"


def _configs(tmp_path: Path) -> list[DeskConfig]:
    """The defaults (no file: nothing validated) and a config read from a file."""
    path = tmp_path / "config.toml"
    path.write_text("[risk]\nmax_leverage = 3\n", encoding="utf-8")
    return [DeskConfig.model_construct(), load_config(path)]


def _refused(section: object, field: str, value: object) -> str:
    before = getattr(section, field, None)
    with pytest.raises(ConfigError) as exc:
        setattr(section, field, value)
    assert getattr(section, field, None) == before, "the refused value was kept"
    assert isinstance(exc.value, ValueError)  # as pydantic's own error was
    return str(exc.value)


@pytest.mark.parametrize(("where", "field", "value", "line"), [
    ("risk", "max_leverage", -1,
     "risk.max_leverage: Input should be greater than or equal to 1, got -1"),
    ("risk", "daily_loss_cap", "lots",
     "risk.daily_loss_cap: Input should be a valid decimal, got 'lots'"),
    ("paper", "taker_fee_bps", -1,
     "paper.taker_fee_bps: Input should be greater than or equal to 0, got -1"),
    ("ui", "keymap", {"pause": 5}, "ui.keymap.pause: Input should be a valid string, got 5"),
    ("binance", "recv_window_ms", 0,
     "binance.recv_window_ms: Input should be greater than or equal to 1, got 0"),
    ("journal", "give_up_after_s", 0,
     "journal.give_up_after_s: Input should be greater than 0, got 0"),
    ("notify", "burst", 0, "notify.burst: Input should be greater than or equal to 1, got 0"),
    ("telegram", "allowed_chat_ids", ["me"],
     "telegram.allowed_chat_ids[0]: Input should be a valid integer, unable to parse string "
     "as an integer, got 'me'"),
    ("api", "port", 70000, "api.port: Input should be less than or equal to 65535, got 70000"),
    ("market_data", "parallel", 99,
     "market_data.parallel: Input should be less than or equal to 16, got 99"),
    ("market_data", "archive_url", "ftp://x",
     "market_data.archive_url: String should match pattern '^https?://\\S+$', got 'ftp://x'"),
])
def test_an_assigned_bad_value_names_its_section_and_what_is_wrong(tmp_path, where, field,
                                                                    value, line):
    for cfg in _configs(tmp_path):
        assert _refused(getattr(cfg, where), field, value) == line


def test_a_rule_across_fields_names_the_field_assigned_and_keeps_the_old_value(tmp_path):
    for cfg in _configs(tmp_path):
        assert _refused(cfg.risk, "min_stop_pct", 5) == (
            "risk.min_stop_pct: min_stop_pct (5.0) must be below max_stop_pct (0.35)")
        cfg.binance.testnet = True
        assert _refused(cfg.binance, "demo_trading", True) == (
            "binance.demo_trading: choose testnet or demo_trading, not both")
        assert _refused(cfg.telegram, "enabled", True).startswith(
            "telegram.enabled: enabled without allowed_chat_ids")


def test_a_strategy_entry_and_the_top_level_are_named_too(tmp_path):
    for cfg in _configs(tmp_path):
        assert _refused(cfg.strategies[0], "name", "") == (
            "strategies[ema_cross].name: String should have at least 1 character, got ''")
        assert _refused(cfg, "symbols", ["BTC USDT"]) == (
            "symbols: 'BTC USDT' is not a symbol (letters and digits, e.g. BTCUSDT), "
            "got ['BTC USDT']")
        assert _refused(cfg.risk, "max_levrage", 3) == (
            "risk.max_levrage: unknown field (check the spelling; see example_config.toml)")


def test_good_values_are_taken_and_converted(tmp_path):
    for cfg in _configs(tmp_path):
        cfg.risk.max_leverage = 7
        cfg.paper.initial_balance = "150"
        cfg.market_data.parallel = 2
        cfg.notify.urls = ["phone", "desk.mail"]
        assert (cfg.risk.max_leverage, cfg.paper.initial_balance) == (7, Decimal(150))
        assert (cfg.market_data.parallel, cfg.notify.urls) == (2, ["phone", "desk.mail"])


@pytest.mark.parametrize("value", [
    [f"tgram://123456:{SECRET}/789"],
    ["phone", f"pover://user@{SECRET}"],
    f"tgram://123456:{SECRET}/789",
    [[f"json://host/{SECRET}"]],
])
def test_notify_urls_set_from_code_are_checked_and_never_echoed(tmp_path, value):
    """The file check refuses a URL in ``notify.urls`` without repeating it; an assignment
    took any text, and its refusal would have printed the token."""
    for cfg in _configs(tmp_path):
        with pytest.raises(ConfigError) as exc:
            cfg.notify.urls = value
        shown = "".join(traceback.format_exception(exc.value)) + repr(exc.value)
        assert SECRET not in shown and "://" not in shown, shown
        assert str(exc.value).startswith("notify.urls"), str(exc.value)
        assert cfg.notify.urls == []


def test_a_url_refused_on_assignment_is_worded_as_the_file_refusal(tmp_path):
    cfg = DeskConfig.model_construct()
    with pytest.raises(ConfigError) as exc:
        cfg.notify.urls = [f"tgram://123456:{SECRET}/789"]
    path = tmp_path / "c.toml"
    path.write_text(f'[notify]\nurls = ["tgram://123456:{SECRET}/789"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as loaded:
        load_config(path)
    assert str(exc.value) == str(loaded.value).removeprefix(f"{path}: ")
    assert "tapedesk notify add NAME" in str(exc.value)


def test_a_command_that_assigns_ends_with_one_line_and_exit_2(capsys):
    """What a user sees when a command's assignment is refused (cli_errors: config errors
    are the user's to fix), not 'unexpected error: ValidationError' over four lines."""
    cfg = DeskConfig.model_construct()
    try:
        cfg.risk.max_leverage = -1
    except Exception as exc:  # what main catches
        code = cli_errors.report(exc)
    assert code == 2
    assert capsys.readouterr().err == (
        "tapedesk: risk.max_leverage: Input should be greater than or equal to 1, got -1\n")


def test_a_backtest_without_a_config_file_still_builds_no_schema(tmp_path):
    """The sections stay ``defer_build``: a config-less backtest validates nothing. Every
    section, not a list of some: a default made by validating ([ui] ``UIConfig()`` instead
    of ``model_construct``) built its schema unseen."""
    code = (
        "import sys\n"
        "from tapedesk.engine import cli, config\n"
        "sys.argv = ['tapedesk', '--data-dir', sys.argv[1], 'backtest', '--data', 'sample:1m',"
        " '--strategy', 'ema_cross', '--to', '2024-01-03']\n"
        "code = cli.main()\n"
        "from tapedesk.engine.config_section import Section\n"
        "def every(c):\n"
        "    for s in c.__subclasses__():\n"
        "        yield s\n"
        "        yield from every(s)\n"
        "sections = set(every(Section))\n"
        "assert len(sections) >= 11, sections\n"
        "built = [m.__name__ for m in sections if m.__pydantic_complete__]\n"
        "print('BUILT', code, built)\n")
    env = {"TAPEDESK_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "home")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert "BUILT 0 []" in out.stdout, out.stdout + out.stderr[-2000:]


@pytest.mark.parametrize("shape", ["tuple", "set", "frozenset", "deque", "generator",
                                   "dict_keys", "bytes", "bytearray"])
def test_notify_urls_in_any_shape_pydantic_takes_for_a_list_are_refused(tmp_path, shape):
    """pydantic takes a tuple, set, deque, generator or dict's keys for a list, and bytes for
    a string: each was let through unchecked (only a list's strings were looked at), so a
    URL with its token became a 'name', later written to the journal by the notifier
    ('no URL stored for tgram://...'), and a duplicate in a tuple was refused by echoing it."""
    from collections import deque

    url = f"tgram://123456:{SECRET}/789"
    made = {"tuple": lambda: (url,), "set": lambda: {url}, "frozenset": lambda: frozenset([url]),
            "deque": lambda: deque([url]), "generator": lambda: (u for u in [url]),
            "dict_keys": lambda: {url: 1}.keys(), "bytes": lambda: [url.encode()],
            "bytearray": lambda: [bytearray(url.encode())]}[shape]
    for cfg in _configs(tmp_path):
        with pytest.raises(ConfigError) as exc:
            cfg.notify.urls = made()
        shown = "".join(traceback.format_exception(exc.value)) + repr(exc.value)
        assert SECRET not in shown and "://" not in shown, shown
        assert cfg.notify.urls == []
        with pytest.raises(ConfigError) as exc:  # the duplicate check's words echoed it
            cfg.notify.urls = ("phone", url, "phone")
        assert SECRET not in str(exc.value), str(exc.value)
        with pytest.raises(ConfigError):  # the section as a whole, from a table
            cfg.notify = {"urls": made()}
        assert cfg.notify.urls == []
    from tapedesk.engine.notify_config import NotifyConfig

    with pytest.raises(ValueError) as exc:
        NotifyConfig(urls=made())
    assert SECRET not in str(exc.value)


def test_names_in_other_shapes_are_still_taken(tmp_path):
    for cfg in _configs(tmp_path):
        cfg.notify.urls = ("phone", "desk.mail")
        assert cfg.notify.urls == ["phone", "desk.mail"]
        cfg.notify.urls = [b"pager"]
        assert cfg.notify.urls == ["pager"]


def test_a_refused_assignment_is_the_users_to_fix_before_the_desk_config_is_imported():
    """cli_errors knew a config error only once tapedesk.engine.config was imported; a
    section lives in its own module ([market_data], [notify], [api]) and can refuse a value
    before: that ended as 'unexpected error: SettingError ... (a bug)', exit 1."""
    code = (
        "import sys\n"
        "from tapedesk.engine import cli_errors\n"
        "from tapedesk.engine.market_data.archive import MarketDataConfig\n"
        "assert 'tapedesk.engine.config' not in sys.modules\n"
        "try:\n"
        "    MarketDataConfig.model_construct().parallel = 99\n"
        "except Exception as exc:\n"
        "    sys.exit(cli_errors.report(exc))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr == "tapedesk: parallel: Input should be less than or equal to 16, got 99\n"
