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
        if BARE.search(path.read_text(encoding="utf-8"))
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
