"""Every CLI backtest is saved under the data dir; --compare prints two of them side by side."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def _run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tapedesk", "--data-dir", str(home), "backtest", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_results_are_saved_and_compared(tmp_path: Path) -> None:
    a = _run("--data", "sample:1m", "--no-progress", home=tmp_path)
    b = _run("--data", "sample:1m", "--param", "reverse=true", "--json", home=tmp_path)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    saved = sorted((tmp_path / "backtests").glob("*.json"))
    assert len(saved) == 2
    assert f"result saved to {saved[0]}" in a.stdout or f"result saved to {saved[1]}" in a.stdout
    assert "result saved to" in b.stderr  # stdout stays pure JSON
    docs = [json.loads(p.read_text()) for p in saved]
    printed = json.loads(b.stdout)
    b_doc = next(d for d in docs if "reverse=true" in d["run"]["params"])
    assert b_doc["metrics"] == printed["metrics"] and b_doc["trades"] == printed["trades"]
    out = _run("--compare", str(saved[0]), str(saved[1]), home=tmp_path)
    assert out.returncode == 0, out.stderr
    cells = next(ln for ln in out.stdout.splitlines() if ln.startswith("trades ")).split()
    n0, n1 = docs[0]["metrics"]["trades"], docs[1]["metrics"]["trades"]
    assert n0 != n1  # else the row could not tell A from B
    assert cells[1:] == [f"{n0:,}", f"{n1:,}", f"{n1 - n0:+,}"]
    assert "--param reverse=true" in out.stdout


def test_compare_of_a_file_that_is_not_a_result_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    out = _run("--compare", str(bad), str(bad), home=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == f"tapedesk: --compare: {bad} is not a saved backtest result (no metrics)"
