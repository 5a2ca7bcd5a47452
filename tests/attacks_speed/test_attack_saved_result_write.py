"""The saved result is now written in pieces as it is encoded. A write that fails half
way (disk full; here the file-size limit, which gives EFBIG the same way) must say one
clear line and leave no cut-off JSON among the saved results, where ``--compare`` (or a
script globbing backtests/*.json) would later find it."""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path

import pytest

LIMIT = 64 * 1024  # bytes: the ema_cross result below is ~500 KiB


def _small_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))  # Python ignores SIGXFSZ


@pytest.mark.parametrize("json_out", [False, True])
def test_a_result_that_cannot_be_written_whole_leaves_no_file(tmp_path: Path,
                                                             json_out: bool) -> None:
    home = tmp_path / "home"
    out = subprocess.run(
        ["tapedesk", "--data-dir", str(home), "backtest", "--data", "sample:1m", "--no-cache",
         "--no-progress", "--strategy", "ema_cross", "--no-risk", "--fixed-qty", "0.01",
         "--no-margin-check", *(["--json"] if json_out else [])],
        capture_output=True, text=True, timeout=120, check=False, preexec_fn=_small_files)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "tapedesk: cannot save the result under the data dir: [Errno 27] File too large")
    assert list((home / "backtests").iterdir()) == []
