"""Hand-made bar files and an independent EMA-cross loop for the attack tests.

The loop below is written from the rules in docs/performance.md ("Agreement with other
engines"), not from the engine's code: first-close seeding, no signal before bar index
``slow``, an exact tie keeps the previous sign.
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

T0 = 1_700_000_000_000 - 1_700_000_000_000 % 86_400_000  # 2023-11-14 00:00 UTC
MINUTE = 60_000


def write_bars(path: Path, closes: list[float], *, t0: int = T0,
               lows: dict[int, float] | None = None, pad: float = 0.2) -> Path:
    """One 1m bar per close; each opens at the previous close (the first at its own)."""
    lows = lows or {}
    lines = ["timestamp,open,high,low,close,volume"]
    prev = closes[0]
    for i, c in enumerate(closes):
        o = prev
        lo = lows.get(i, min(o, c) - pad)
        lines.append(f"{t0 + i * MINUTE},{o:.2f},{max(o, c) + pad:.2f},{lo:.2f},{c:.2f},10")
        prev = c
    path.write_text("\n".join(lines) + "\n")
    return path


def signs(closes: list[float], fast: int, slow: int) -> list[tuple[int, int]]:
    """(bar index, +1 up / -1 down) for every tradable cross of fast over slow EMA."""
    af, aslow = 2 / (fast + 1), 2 / (slow + 1)
    ef = es = closes[0]
    prev = 0
    out = []
    for i, c in enumerate(closes):
        if i:
            ef += af * (c - ef)
            es += aslow * (c - es)
        d = ef - es
        sign = 1 if d > 0 else -1 if d < 0 else prev
        if i >= slow and prev and sign != prev:
            out.append((i, sign))
        prev = sign
    return out


def always_in(closes: list[float], fast: int, slow: int, fee_bps: int) -> dict:
    """Fills, fees and net P&L of the always-in cross, qty 1, filled at the signal close."""
    fee_rate = Decimal(fee_bps) / Decimal(10_000)
    pos, entry = 0, Decimal(0)
    fills, fees, gross = 0, Decimal(0), Decimal(0)

    def fill(price: Decimal) -> None:
        nonlocal fills, fees
        fills += 1
        fees += price * fee_rate

    for i, side in signs(closes, fast, slow):
        px = Decimal(f"{closes[i]:.2f}")
        if pos:
            gross += (px - entry) * pos
            fill(px)
        pos, entry = side, px
        fill(px)
    if pos:
        px = Decimal(f"{closes[-1]:.2f}")
        gross += (px - entry) * pos
        fill(px)
    return {"fills": fills, "fees": fees, "net": gross - fees}


def tapedesk(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The console script, as a user runs it; never a traceback, whatever happened."""
    proc = subprocess.run(["tapedesk", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


def backtest_json(*args: str) -> dict:
    proc = tapedesk("backtest", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The refusal a user sees: exit code 2 and exactly one line on stderr."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert not proc.stdout.strip(), proc.stdout
    return lines[0]
