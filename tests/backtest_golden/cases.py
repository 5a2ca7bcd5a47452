"""The recorded backtests: console-script runs on the bundled data whose every output byte
is kept, so a change meant to be a pure speed-up or refactor cannot move a result unnoticed.

Re-record only when a result is *meant* to change, and say why in the commit:
``python -m tests.backtest_golden.cases`` (from the project root).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "engine" / "sample_data"
RECORDED = HERE / "recorded.json"
R = ["--no-risk", "--fixed-qty", "0.01"]
PEER = ["--param", "fast=12", "--param", "slow=26", "--param", "reverse=true", "--param",
        "stop_pct=0", "--fill-at", "close", "--fixed-qty", "1", "--fee-bps", "4",
        "--slippage-bps", "0", "--funding-bps", "0", "--no-risk", "--initial-balance", "1e9"]
CASES: dict[str, list[str]] = {
    "month_ema_desk_rules": ["--data", "sample:1m", "--strategy", "ema_cross"],
    "month_all_desk_rules": ["--data", "sample:1m", "--strategy", "all"],
    "month_all_no_risk": ["--data", "sample:1m", "--strategy", "all", *R],
    "month_peer_rules": ["--data", "sample:1m", "--strategy", "ema_cross", *PEER,
                         "--no-margin-check"],
    "month_close_fills": ["--data", "sample:1m", "--strategy", "all", "--fill-at", "close",
                          "--slippage-bps", "3", "--funding-bps", "2"],
    "month_grid_small_balance": ["--data", "sample:1m", "--strategy", "grid", *R,
                                 "--initial-balance", "500"],
    "stream_all_desk_rules": ["--data", "sample:stream", "--strategy", "all"],
    "stream_all_no_risk": ["--data", "sample:stream", "--strategy", "all", *R],
}
_SAVED = re.compile(r"result saved to (\S+\.json)")


def run_case(args: list[str], home: str) -> dict[str, str]:
    """The printed summary (saved path masked), and digests of the --json output and the
    saved result file (each large: a digest keeps the repository small)."""
    env = {**os.environ, "TAPEDESK_HOME": home}
    cmd = [sys.executable, "-m", "tapedesk", "backtest", *args, "--no-progress"]
    text = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    as_json = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env,
                             timeout=300)
    saved = _SAVED.search(text.stdout + text.stderr)
    saved_bytes = Path(saved.group(1)).read_bytes() if saved else b""
    # The saved result names its data file: where the bundled data is installed varies.
    saved_bytes = saved_bytes.replace(str(SAMPLE_DIR).encode(), b"<sample_data>")
    return {
        "exit": f"{text.returncode} {as_json.returncode}",
        "text": _SAVED.sub("result saved to <path>", text.stdout),
        "stderr": _SAVED.sub("result saved to <path>", text.stderr + as_json.stderr),
        "json_sha256": hashlib.sha256(as_json.stdout.encode()).hexdigest(),
        "saved_sha256": hashlib.sha256(saved_bytes).hexdigest(),
    }


def record() -> None:
    out = {}
    for name, args in CASES.items():
        with tempfile.TemporaryDirectory() as home:
            out[name] = run_case(args, home)
    RECORDED.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    record()
