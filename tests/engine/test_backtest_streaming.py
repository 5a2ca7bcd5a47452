"""The CLI streams the file; the result must be the in-memory backtest's, byte for byte."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from tapedesk.engine.backtest import run_backtest
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import available, create


def _cli(*args: str) -> dict:
    out = subprocess.run(["tapedesk", "backtest", *args, "--json"], capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return json.loads(out.stdout)


def _in_memory(names: list[str], params: dict | None = None, **options: object) -> dict:
    bars = load_bars(SAMPLE_BARS_1M)  # the whole file as a list: the old CLI path
    strategies = [create(n, **(params or {})) for n in names]
    return json.loads(json.dumps(run_backtest(bars, strategies, **options).to_json(),
                                 default=str))


@pytest.mark.parametrize("names", [["ema_cross"], ["grid", "mean_reversion"]])
def test_streamed_cli_equals_in_memory_backtest(names: list[str]) -> None:
    streamed = _cli("--data", "sample:1m", *[a for n in names for a in ("--strategy", n)])
    assert streamed.pop("skipped") == {}
    assert streamed == _in_memory(names)
    assert streamed["trades"], "a run without trades would prove nothing"
    for m in streamed["per_strategy"].values():  # each strategy's own exposure, counted
        assert 0 < m["bars_in_position"] <= streamed["metrics"]["bars_in_position"]


def test_streamed_research_run_equals_in_memory() -> None:
    """The peer comparison's always-in run (bench/peers), streamed and in memory."""
    streamed = _cli("--data", "sample:1m", "--param", "reverse=true", "--param", "stop_pct=0",
                    "--fill-at", "close", "--fixed-qty", "1", "--fee-bps", "4",
                    "--slippage-bps", "0", "--funding-bps", "0", "--no-risk",
                    "--no-margin-check")
    streamed.pop("skipped")
    assert streamed == _in_memory(
        ["ema_cross"], {"reverse": True, "stop_pct": 0}, fill_at="close",
        fixed_qty=Decimal(1), fee_bps=4.0, slippage_bps=0.0, funding_bps=0.0, no_risk=True,
        margin_check=False,
    )
    assert streamed["fills"] == 3_328  # bench/peers: backtrader's and vectorbt's count too
    assert streamed["metrics"]["net_pnl"] == pytest.approx(-58_829.93, abs=0.005)


def test_all_on_bars_lists_the_quote_strategy_as_skipped() -> None:
    out = subprocess.run(["tapedesk", "backtest", "--data", "sample:1m", "--strategy", "all",
                          "--no-progress"], capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert "skipped book_imbalance: needs quotes" in out.stderr
    assert "book_imbalance: skipped, needs quotes" in out.stdout
    table = out.stdout[out.stdout.index("strategy "):]
    for name in sorted(available()):
        if name != "book_imbalance":
            assert f"\n{name} " in table  # every runnable strategy has its row
    assert "CAGR / Calmar" in out.stdout


def test_only_quote_strategies_on_bars_is_one_clear_line() -> None:
    out = subprocess.run(["tapedesk", "backtest", "--data", "sample:1m", "--strategy",
                          "book_imbalance"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 2
    assert "no selected strategy can run on this data" in out.stderr
    assert "Traceback" not in out.stderr


def test_capture_runs_the_quote_strategy() -> None:
    doc = _cli("--data", "sample:stream", "--strategy", "book_imbalance")
    assert doc["skipped"] == {}


def test_empty_range_is_one_clear_line() -> None:
    out = subprocess.run(["tapedesk", "backtest", "--data", "sample:1m", "--from", "2030-01-01"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "no market events in the chosen range" in out.stderr


def test_progress_follows_the_bytes_the_reader_has_read(tmp_path: Path) -> None:
    import itertools

    from tapedesk.engine.backtest_cli import _bytes_read
    from tapedesk.engine.feeds.files import iter_events

    data = tmp_path / "BTCUSDT_1m.csv"
    text = "timestamp,open,high,low,close,volume\n" + "".join(
        f"2024-01-{1 + i // 1440:02d} {i // 60 % 24:02d}:{i % 60:02d}:00,100,101,99,100,1\n"
        for i in range(20_000))
    data.write_text(text)
    seen: list[int] = []
    report = _bytes_read(data, seen.append)
    events = iter_events(data)
    for _ in itertools.islice(events, 10):
        pass
    report(10)
    list(events)
    size = data.stat().st_size
    assert seen and 0 < seen[0] < size  # partway through: read in buffered chunks


def test_progress_bar_on_a_terminal_counts_mib_read(tmp_path: Path) -> None:
    """The real command on a pty: the bar is drawn from bytes read and ends at 100 %."""
    import os
    import pty

    data = tmp_path / "BTCUSDT_1m.csv"
    with data.open("w") as fh:  # ~5.5 MiB: over the 4 MiB a bar is drawn for
        fh.write("timestamp,open,high,low,close,volume\n")
        for i in range(90_000):
            day, minute = divmod(i, 1440)
            price = 100 + (i % 97) / 10
            fh.write(f"2024-{1 + day // 28:02d}-{1 + day % 28:02d} {minute // 60:02d}:"
                     f"{minute % 60:02d}:00,{price},{price + 1},{price - 1},{price},1.5\n")
    master, slave = pty.openpty()
    proc = subprocess.Popen(["tapedesk", "backtest", "--data", str(data)],
                            stdout=subprocess.DEVNULL, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=120) == 0
    os.close(master)
    text = b"".join(chunks).decode(errors="replace")
    size = data.stat().st_size / 2**20
    assert f"100.0 % {size:,.1f}/{size:,.1f} MiB" in text, text[-400:]
