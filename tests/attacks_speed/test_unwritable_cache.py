"""A data dir where the bar copy cannot be written (read-only mount, full disk, or as here a
file where the cache folder should be): ``tapedesk optimize`` and ``tapedesk backtest`` still
run from the text, with the result they give without a cache."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tapedesk.engine.feeds import bar_copy, load_bars

from tests.attacks_speed.test_bar_copy_identity import _bars, _fixed_width_csv


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "cache").mkdir(parents=True)
    home.chmod(0o700)
    (home / "cache" / "bars").write_text("not a folder\n")  # nothing can be written under it
    return home


def _run(home: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tapedesk", "--data-dir", str(home), *argv], capture_output=True,
                          text=True, timeout=300, check=False)


def test_optimize_runs_from_the_text_when_its_copy_cannot_be_written(tmp_path: Path):
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M

    src = _fixed_width_csv(tmp_path / "btc_1m.csv", load_bars(SAMPLE_BARS_1M)[:6000], 1.0)
    home = _home(tmp_path)
    out = _run(home, "optimize", "--strategy", "ema_cross", "--data", str(src), "--trials",
               "3", "--param", "fast=5..10", "--jobs", "1", "--seed", "1", "--json")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and json.loads(out.stdout)


def test_backtest_runs_from_the_text_when_its_copy_cannot_be_written(tmp_path: Path):
    src = _fixed_width_csv(tmp_path / "btc_1m.csv", _bars(), 1.0)
    assert src.stat().st_size >= bar_copy.MIN_SOURCE_BYTES
    home = _home(tmp_path)
    argv = ("backtest", "--data", str(src), "--strategy", "ema_cross", "--json")
    out = _run(home, *argv)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    plain = _run(tmp_path / "other", *argv, "--no-cache")
    got, want = json.loads(out.stdout), json.loads(plain.stdout)
    got.pop("run", None)
    want.pop("run", None)
    assert got == want


def test_a_copy_that_cannot_open_all_its_parts_leaves_nothing_behind(tmp_path: Path,
                                                                      monkeypatch):
    import os

    from tapedesk.engine.feeds.files import iter_events
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M

    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    src = _fixed_width_csv(tmp_path / "btc_1m.csv", load_bars(SAMPLE_BARS_1M)[:2000], 1.0)
    cache = tmp_path / "cache"
    final = bar_copy.copy_path(cache, src)
    cache.mkdir()
    blocker = final.with_name(f"{final.name}.{os.getpid()}.part3")
    blocker.mkdir()  # the fourth part cannot be opened (as on a disk that just filled up)
    want = [b.close for b in iter_events(src, None, None, None, lambda _: None, "ohlcv_csv")]
    got = [b.close for b in iter_events(src, None, None, None, lambda _: None, "ohlcv_csv",
                                        cache)]
    assert got == want
    assert bar_copy.ensure_copy(src, "ohlcv_csv", cache) is None
    assert sorted(p.name for p in cache.iterdir()) == [blocker.name]


def test_a_full_disk_while_copying_spoils_only_the_copy(tmp_path: Path, monkeypatch):
    """A part of the copy lands on a full device (``/dev/full``: every write is ENOSPC):
    the bars read are the text's, all of them, and no copy is published or left behind."""
    import os

    from tapedesk.engine.feeds.files import iter_events
    from tapedesk.engine.sample_data import SAMPLE_BARS_1M

    if not os.path.exists("/dev/full"):
        import pytest

        pytest.skip("no /dev/full on this system")
    monkeypatch.setattr(bar_copy, "MIN_SOURCE_BYTES", 0)
    src = _fixed_width_csv(tmp_path / "btc_1m.csv", load_bars(SAMPLE_BARS_1M)[:20000], 1.0)
    cache = tmp_path / "cache"
    cache.mkdir()
    final = bar_copy.copy_path(cache, src)
    os.symlink("/dev/full", final.with_name(f"{final.name}.{os.getpid()}.part4"))
    want = [(b.ts, b.close) for b in iter_events(src, None, None, None, lambda _: None,
                                                 "ohlcv_csv")]
    got = [(b.ts, b.close) for b in iter_events(src, None, None, None, lambda _: None,
                                                "ohlcv_csv", cache)]
    assert got == want
    assert not final.exists() and list(cache.iterdir()) == []
