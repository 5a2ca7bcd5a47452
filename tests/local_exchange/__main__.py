"""Run the local exchange as its own process (for kill -9 tests of a desk in another process).

    python -m tests.local_exchange --port-file PATH [--key K --secret S] [--balance USDT]
        [--binance]   (every real-exchange habit on: see behaviour.Behaviour.binance)
        [--multi-assets] [--hedge]   (account modes the desk must refuse)

Writes the port to PATH once listening; runs until killed. Control it over HTTP:
``POST /_control/price {"symbol": ..., "price": ..., "mark": ...}``, ``POST /_control/funding
{"symbol": ..., "rate": ...}``, ``GET /_control/state`` and ``GET /_control/requests``.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from tests.local_exchange.behaviour import Behaviour
from tests.local_exchange.server import LocalExchange


async def _main(args: argparse.Namespace) -> None:
    ex = LocalExchange(api_key=args.key, api_secret=args.secret, balance=args.balance,
                       behaviour=Behaviour.binance() if args.binance else None)
    ex.account.multi_assets = args.multi_assets
    ex.account.dual_side = args.hedge
    await ex.start(args.port)
    Path(args.port_file).write_text(str(ex.port))
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--key", default="local-test-key")
    parser.add_argument("--secret", default="local-test-secret")
    parser.add_argument("--balance", default="10000")
    parser.add_argument("--binance", action="store_true")
    parser.add_argument("--multi-assets", action="store_true", help="start in Multi-Assets mode")
    parser.add_argument("--hedge", action="store_true", help="start in hedge (dual-side) mode")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
