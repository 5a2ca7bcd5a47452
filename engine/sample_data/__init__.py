"""Real market data shipped inside the package so the offline demo and tests work anywhere.

See README.md beside this file for where each file comes from and under which licence.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def sample_path(name: str) -> Path:
    """Absolute path of a shipped sample file; a clear error when it does not exist."""
    path = _HERE / name
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in _HERE.glob("*.gz")))
        raise FileNotFoundError(f"no sample named {name!r}; shipped samples: {known}")
    return path


#: 45,031 one-minute bars, 2021-12-31 23:01 → 2022-02-01 05:31 UTC (FTX-style BTC-PERP; gzip).
SAMPLE_BARS_1M = sample_path("btc-perp-20211231-20220201_1m.csv.gz")
#: Binance USDT-M BTCUSDT websocket capture, 2024-08-08 23:54 → 24:00 UTC (trade, bookTicker,
#: depth; 93,954 messages).
SAMPLE_STREAM = sample_path("usdm_btcusdt_20240808.gz")

#: Names the CLI understands anywhere (`--data sample:1m`, `--replay sample:stream`), so the
#: README's commands work after a non-editable install, where no repo-relative path exists.
SAMPLES = {"1m": SAMPLE_BARS_1M, "stream": SAMPLE_STREAM}


def data_source(text: str) -> Path:
    """A data argument: ``sample:<name>`` for a bundled sample, ``binance:SYM:1m:FROM..TO``
    for downloaded months (``tapedesk data download``), else a file path."""
    if text.startswith("binance:"):
        from tapedesk.engine.market_data.selection import resolve

        return resolve(text)
    if text.startswith("sample:"):
        name = text.removeprefix("sample:")
        if name not in SAMPLES:
            import argparse

            known = ", ".join(f"sample:{k}" for k in SAMPLES)
            raise argparse.ArgumentTypeError(f"no bundled sample {text!r}; known: {known}")
        return SAMPLES[name]
    return Path(text)


__all__ = ["SAMPLES", "SAMPLE_BARS_1M", "SAMPLE_STREAM", "data_source", "sample_path"]
