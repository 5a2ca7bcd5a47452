"""``[api]`` in the config: off by default, loopback by default, bad values in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from tapedesk.engine.assembly import build_replay_engine
from tapedesk.engine.config import ConfigError, DeskConfig, load_config


def test_api_is_off_and_loopback_by_default() -> None:
    cfg = DeskConfig().api
    assert (cfg.enabled, cfg.host, cfg.port) == (False, "127.0.0.1", 8765)


async def test_a_desk_without_api_enabled_serves_nothing(tmp_path: Path, sample_csv) -> None:
    (tmp_path / "d").mkdir()
    eng = build_replay_engine(sample_csv, data_dir=tmp_path / "d", speed=0)  # as a user runs it
    await eng.start()
    try:
        assert eng._control is not None
        assert not [c for c in eng.companions
                    if type(getattr(c, "companion", c)).__name__ == "ApiServer"]
    finally:
        await eng.stop()


@pytest.mark.parametrize(("toml", "where"), [
    ("[api]\nport = 99999\n", "api.port"),
    ("[api]\nhost = ''\n", "api.host"),
    ("[api]\nenable = true\n", "api.enable"),
])
def test_bad_api_config_names_the_field(tmp_path: Path, toml: str, where: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f": {where}: " in str(err.value) and len(str(err.value).splitlines()) == 1


def test_example_config_section_enables_the_api(tmp_path: Path) -> None:
    from importlib.resources import files

    text = files("tapedesk.engine").joinpath("example_config.toml").read_text()
    commented = text[text.index("# [api]"):]
    enabled = "\n".join(line.split("#", 2)[1].strip() if line.startswith("# ") else line
                        for line in commented.splitlines())
    path = tmp_path / "config.toml"
    path.write_text(enabled + "\n")
    assert load_config(path).api.enabled is True


def test_help_loads_none_of_the_server() -> None:
    """`tapedesk --help` lists serve and api but imports neither aiohttp's server side nor
    the API's modules beyond its config model (and never prometheus_client)."""
    import subprocess
    import sys

    code = ("import sys\nfrom tapedesk.engine.cli import build_parser\nbuild_parser()\n"
            "print(sorted(m for m in sys.modules if m.startswith(('tapedesk.engine.api', "
            "'aiohttp.web', 'prometheus_client'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    import ast

    loaded = set(ast.literal_eval(out.stdout.strip()))  # a printed list of module names
    assert loaded <= {"tapedesk.engine.api", "tapedesk.engine.api.config"}, loaded
