"""The installed shape: one `tapedesk` package, nothing else at top level, no bare imports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BARE = re.compile(r"^\s*(from|import)\s+(engine|tui|themes)(\.|\s|$)", re.M)


def test_no_module_imports_the_folders_by_their_bare_names() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("engine", "tui", "themes", "tapedesk", "tests", "bench", "screenshots")
        for path in (ROOT / folder).rglob("*.py")
        # bench/out/ holds generated files and the peer engines' own venvs (git-ignored)
        if not path.is_relative_to(ROOT / "bench" / "out")
        and BARE.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"import tapedesk.<sub> instead: {offenders}"


def test_python_dash_m_tapedesk_and_version(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tapedesk", "--version"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"tapedesk \S+\n", out.stdout)


def test_plugin_api_is_importable_from_the_top_package() -> None:
    from tapedesk.engine.strategy import Strategy as Inner

    from tapedesk import Side, Signal, Strategy, register

    assert Strategy is Inner and callable(register) and Signal and Side


def test_strategies_command_lists_every_registered_strategy_with_params(tmp_path: Path) -> None:
    import json

    from tapedesk.engine.strategy import available

    out = subprocess.run(
        [sys.executable, "-m", "tapedesk", "strategies", "--json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    listed = {s["name"]: s for s in json.loads(out.stdout)}
    assert set(listed) == set(available())
    assert all(s["description"] for s in listed.values())
    sweep = {p["name"]: p for p in listed["liquidity_sweep"]["params"]}
    assert sweep and all(p["help"] and p["type"] for p in sweep.values())


def test_bundled_samples_have_names_the_cli_understands(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tapedesk", "backtest", "--data", "sample:1m", "--no-progress",
         "--json", "--to", "2022-01-03"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "tapedesk", "backtest", "--data", "sample:nope"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert bad.returncode == 2 and "sample:1m" in bad.stderr


def test_wheel_installs_one_package_and_its_commands_work_outside_the_tree(tmp_path: Path) -> None:
    """`pip install .` the way users install: a wheel into a fresh venv, run from elsewhere."""
    import venv
    import zipfile

    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = wheels.glob("tapedesk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"tapedesk"}
    assert "tapedesk/engine/sample_data/LICENSE-nautilus-LGPL-3.0" in names
    # Dependencies come from this interpreter's site-packages; the package from the wheel.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
         str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    run = tmp_path / "elsewhere"
    run.mkdir()
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(run),
           "TAPEDESK_HOME": str(run / "data")}
    where = subprocess.run([str(py), "-c", "import tapedesk.engine.engine as e; print(e.__file__)"],
                           capture_output=True, text=True, cwd=run, env=env, timeout=60)
    assert str(env_dir) in where.stdout, where.stdout + where.stderr
    tapedesk = str(env_dir / "bin" / "tapedesk")
    for argv in (
        [tapedesk, "--version"],
        [tapedesk, "strategies"],
        [tapedesk, "backtest", "--data", "sample:1m", "--no-progress", "--to", "2022-01-02"],
        [tapedesk, "run", "--headless", "--replay", "sample:stream", "--speed", "0"],
    ):
        out = subprocess.run(argv, capture_output=True, text=True, cwd=run, env=env, timeout=300)
        assert out.returncode == 0, (argv, out.stderr[-2000:])
        assert "Traceback" not in out.stderr, argv
