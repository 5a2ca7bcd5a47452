"""docs/backtesting.md "Downloading Binance history", every command exactly as written,
against the local archive (the docs' range, most months absent as for a young symbol)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.attacks_data.conftest import bars, ms, store, tapedesk
from tests.market_data.archive_server import ArchiveServer, zipped

DOCS = Path(__file__).resolve().parents[2] / "docs" / "backtesting.md"


def _commands() -> list[list[str]]:
    text = DOCS.read_text()
    block = text.split("## Downloading Binance history", 1)[1].split("```", 2)[1]
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith("tapedesk ")]


def test_every_documented_command_runs_as_written(server: ArchiveServer,
                                                  tmp_path: Path) -> None:
    base = server.base  # type: ignore[attr-defined]
    for sym, price in (("BTCUSDT", 60_000.0), ("ETHUSDT", 3_000.0)):
        for y, m in ((2024, 5), (2024, 6)):
            server.put_month(sym, "1m", f"{y}-{m:02d}", bars(ms(y, m), 1440, sym, price),
                             header=m == 5)
    server.put_month("BTCUSDT", "1m", "2024-06", bars(ms(2024, 6), 1440, "BTCUSDT", 60_100.0),
                     kind="markPriceKlines")
    name = "BTCUSDT-fundingRate-2024-06"
    server.put(f"/data/futures/um/monthly/fundingRate/BTCUSDT/{name}.zip", zipped(
        name + ".csv", "".join(f"{ms(2024, 6) + k * 8 * 3_600_000 + 4},8,0.0001\n"
                               for k in range(4))))
    cmds = _commands()
    assert len(cmds) == 5 and cmds[0][:2] == ["data", "download"], cmds
    outs = [tapedesk(*c, home=tmp_path, base=base, timeout=120) for c in cmds]
    for c, p in zip(cmds, outs, strict=True):
        assert p.returncode == 0, (c, p.stdout[-1500:], p.stderr[-1500:])
    dl, dl2, ls, bt, replay = outs
    assert "BTCUSDT 1m klines 2024-06: stored: monthly archive, 1,440 rows" in dl.stdout
    assert "ETHUSDT 1m klines 2023-01: absent: does not exist in the archive (HTTP 404)" \
        in dl.stdout
    assert "BTCUSDT funding 2024-06: stored: monthly archive, 4 rows" in dl2.stdout
    assert "BTCUSDT 1m mark 2024-06: stored" in dl2.stdout
    assert re.search(r"klines\s+BTCUSDT\s+1m\s+2024-05\.\.2024-06\s+2,880", ls.stdout), ls.stdout
    assert "use: --data binance:BTCUSDT:1m:2024-05..2024-06" in ls.stdout
    assert "rates applied" in bt.stderr and "not in the archive" in bt.stderr, bt.stderr
    assert "trades" in bt.stdout
    assert list(store(tmp_path).rglob("*.cols"))
    assert "Traceback" not in replay.stderr
