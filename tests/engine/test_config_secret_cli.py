"""A config file's refusal never repeats a secret a URL carries (a password in its user
part, a bot token in its path), whichever command read the file: the console script as a
user runs it. The notify URLs' own check (never echoed) is in tests/engine_units."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("tapedesk")
SECRET = "S3cr3tT0ken"


def tapedesk(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.skip(f"no tapedesk console script beside {sys.executable} (pip install -e .)")
    env = {**os.environ, "TAPEDESK_HOME": str(tmp_path / "home"),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize(("toml", "line"), [
    # a rule across fields echoed the whole section, URLs and all
    (f'[binance]\nrest_url = "https://user:{SECRET}@host/fapi"\ntestnet = true\n'
     "demo_trading = true\n",
     "binance: choose testnet or demo_trading, not both, got {'rest_url': 'https://...@host/...', "),
    (f'[market_data]\narchive_url = "ftp://user:{SECRET}@host"\n',
     "market_data.archive_url: String should match pattern '^https?://\\S+$', "
     "got 'ftp://...@host'"),
    (f'[telegram]\napi_url = "https://api.telegram.org/bot123456:{SECRET} x"\n',
     "telegram.api_url: must be an http(s) URL such as https://api.telegram.org/bot, "
     "got 'https://api.telegram.org/... x'"),
    # a URL pasted as a key of [notify]: the unknown field's name is the URL
    (f'[notify]\n"tgram://123456:{SECRET}/789" = 1\n',
     "notify.'tgram://...': unknown field (check the spelling; see example_config.toml)"),
])
@pytest.mark.parametrize("argv", [
    ["backtest", "--data", "sample:1m", "--strategy", "ema_cross"],
    ["run", "--headless", "--replay", "sample:1m", "--speed", "0"],
    ["optimize", "--strategy", "ema_cross", "--param", "fast=5..10", "--data", "sample:1m"],
], ids=["backtest", "run", "optimize"])
def test_a_refused_url_is_named_without_its_secret(tmp_path, toml, line, argv):
    cfg = tmp_path / "config.toml"
    cfg.write_text(toml, encoding="utf-8")
    run = tapedesk("--config", str(cfg), *argv, tmp_path=tmp_path)
    assert run.returncode == 2, run.stderr
    assert SECRET not in run.stdout + run.stderr, run.stderr
    (shown,) = run.stderr.splitlines()
    assert shown.startswith(f"tapedesk: {cfg}: {line}"), shown
    assert "Traceback" not in run.stderr
