"""review-seven: a user's plugin strategy that keeps some of its bars (a dict by time, a
deque, a closure, a generator that hands a bar back later, an exception carrying one) sees
them unchanged when `tapedesk backtest` reads a large CSV's columnar copy, where the run's
loop refills a Bar nobody kept (engine/backtest.py ``_run_columns``). The plugin checks its
kept bars on every bar (a changed one disables it, said above the table) and trades on
their values, so the copy's run (bars refilled) must print exactly what the CSV's run
(``--no-cache``: a new Bar for each row) prints."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

PLUGIN = '''
from collections import deque

from tapedesk import Side, Signal, Strategy, register


def snap(b):
    return (b.symbol, b.open_ts, b.ts, b.open, b.high, b.low, b.close, b.volume)


class Carry(Exception):
    def __init__(self, bar):
        super().__init__("carrying a bar")
        self.bar = bar


@register("keeper")
class Keeper(Strategy):
    def __init__(self, symbols=None, **params):
        super().__init__(symbols, **params)
        self.n = 0
        self.by_ts, self.last5, self.closure = {}, deque(maxlen=5), None
        self.errors, self.checks = [], []
        self.later = self._later()
        next(self.later)

    def _later(self):  # a generator: the bar sent in comes back three bars later
        held, out = deque(), None
        while True:
            bar = yield out
            held.append((bar, snap(bar)))
            out = held.popleft() if len(held) > 3 else None

    def on_bar(self, bar):
        self.n += 1
        n = self.n
        if n % 7 == 0:
            self.by_ts[bar.ts] = bar
            self.checks.append((bar, snap(bar)))
        if n % 11 == 0:
            self.last5.append(bar)
        if n % 13 == 0:
            kept = bar
            self.closure = lambda: kept.close
        if n % 17 == 0:
            try:
                raise Carry(bar)
            except Carry as exc:
                self.errors.append((exc, snap(bar)))
        back = self.later.send(bar)
        if back is not None and snap(back[0]) != back[1]:
            raise RuntimeError("the generator's bar changed")
        if n % 997 == 0:
            for b, s in self.checks + [(e.bar, s) for e, s in self.errors]:
                if snap(b) != s:
                    raise RuntimeError(f"a kept bar changed: {s} -> {snap(b)}")
            if any(b.ts != ts for ts, b in self.by_ts.items()):
                raise RuntimeError("a bar kept by its time changed")
        if n % 50 or not self.last5 or self.closure is None or back is None:
            return None
        ref = back[0]
        long = self.closure() + ref.close > 2 * self.last5[0].close
        side = Side.LONG if long else Side.SHORT
        stop = bar.close * (0.997 if long else 1.003)
        return Signal(self.name, bar.symbol, side, bar.ts, bar.close, stop,
                      take_profit=bar.close * (1.006 if long else 0.994),
                      reasons=[f"kept closes {self.closure()} and {ref.close}"])
'''


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """(env, a CSV large enough to get a columnar copy), the plugin in the config dir."""
    from tapedesk.engine.feeds.bar_copy import MIN_SOURCE_BYTES

    tmp = tmp_path_factory.mktemp("keeper")
    folder = tmp / "xdg" / "tapedesk" / "strategies"
    folder.mkdir(parents=True)
    (folder / "keeper.py").write_text(PLUGIN)
    rng = random.Random(7)
    rows = ["timestamp,open,high,low,close,volume"]
    price, t0 = 30_000.0, 1_700_000_000_000
    i = 0
    size = len(rows[0])
    while size <= MIN_SOURCE_BYTES + 4096:
        o = price
        price = round(max(1000.0, price + rng.choice((-1, 1)) * rng.randint(0, 200) * 0.1), 1)
        hi, lo = round(max(o, price) + rng.randint(0, 20) * 0.1, 1), round(
            min(o, price) - rng.randint(0, 20) * 0.1, 1)
        row = f"{t0 + i * 60_000},{o},{hi},{lo},{price},{rng.randint(1, 9999) / 100}"
        rows.append(row)
        size += len(row) + 1
        i += 1
    data = tmp / "BTCUSDT-1m.csv"
    data.write_text("\n".join(rows) + "\n")
    an_hour_ago = time.time() - 3600  # not a "racy" source (bar_copy): a plain copy
    os.utime(data, (an_hour_ago, an_hour_ago))
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "xdg"), "TAPEDESK_HOME": str(tmp / "home")}
    return env, data


def _json_run(env: dict[str, str], data: Path, *extra: str) -> dict:
    out = subprocess.run(["tapedesk", "backtest", "--data", str(data), "--strategy", "keeper",
                          "--json", "--no-risk", "--fixed-qty", "0.01", *extra],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return json.loads(out.stdout)


def test_kept_bars_never_change_and_the_copy_gives_the_csv_result(desk):
    env, data = desk
    first = _json_run(env, data)  # reads the CSV, writing its copy
    copies = list((Path(env["TAPEDESK_HOME"]) / "cache" / "bars").glob("*.cols"))
    assert copies, "the CSV got no columnar copy: the test would not reach the refilled bars"
    from_copy = _json_run(env, data)
    plain = _json_run(env, data, "--no-cache")
    assert not [x for x in from_copy["labels"] if "DISABLED" in x], from_copy["labels"]
    assert from_copy["metrics"]["trades"] > 200  # it trades on its kept bars' values
    assert from_copy == plain == first
