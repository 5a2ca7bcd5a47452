"""Do slow websocket clients slow the desk? Prints figures; asserts nothing.

    python bench/api_slow_clients.py [--clients 100] [--days 31] [--rcvbuf 0] [--repeat 3]

The real desk (replay engine on the bundled real BTCUSDT 1m sample, paper venue, journal on
disk, three strategies) replays ``--days`` of bars at full speed, three times, each in a
fresh process so RSS figures are its own:

  off     the API off (the desk as it ships)
  idle    the API on (its companion started: hub, lag monitor), nobody connected
  slow    the API on, ``--clients`` websocket clients that complete the handshake and then
          never read a byte (a separate process), plus one client that reads everything

For each: tick → decision latency (``Engine.process`` of a bar that led to a risk decision,
entry to return, perf_counter_ns) p50/p99/max, per-bar processing p99, batch latency (feed
batch in → journal commit and announcement done) p50/p99/max, bars/s over the whole replay,
the API's event-loop lag (worst during the replay), the peak RSS of the desk process, what
the reading client received, how many silent clients the desk dropped, and how long the
desk took to stop with every client still connected.

``--rcvbuf N`` shrinks the silent clients' receive buffers (bytes) so they stall sooner; the
default leaves the kernel's, as a real stuck dashboard would have.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q / 100 * len(values)))]


# -- the silent clients (their own process) ----------------------------------------------


async def _silent(host: str, port: int, token: str, rcvbuf: int) -> Any:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=rcvbuf or 65536)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws/live HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer  # and never read again


async def clients_main(url: str, n: int, rcvbuf: int) -> None:
    host, port = url.removeprefix("http://").split(":")
    token = os.environ["BENCH_API_TOKEN"]
    held = [await _silent(host, int(port), token, rcvbuf) for _ in range(n)]
    print("connected", flush=True)
    await asyncio.sleep(3600)
    del held


# -- one desk run (its own process) ------------------------------------------------------


async def desk_main(scenario: str, days: int, n_clients: int, rcvbuf: int) -> dict[str, Any]:
    import aiohttp
    import keyring
    from tapedesk.engine.api.config import ApiConfig
    from tapedesk.engine.api.token import load_token
    from tapedesk.engine.assembly import build_replay_engine
    from tapedesk.engine.config import DeskConfig, StrategyConfig
    from tapedesk.engine.events import Kind

    from tests.engine.helpers import write_sample_csv
    from tests.live.file_keyring import PlainFileKeyring

    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    backend = PlainFileKeyring(tmp / "keyring.json")  # a throwaway token, never the user's
    keyring.get_keyring = lambda: backend
    data = write_sample_csv(tmp / "btc_1m.csv", days=days, start="2022-01-01")
    (tmp / "d").mkdir()
    cfg = DeskConfig(
        api=ApiConfig(enabled=scenario != "off", port=0),
        strategies=[StrategyConfig(name="ema_cross"), StrategyConfig(name="mean_reversion"),
                    StrategyConfig(name="grid")],
    )
    eng = build_replay_engine(data, data_dir=tmp / "d", config=cfg, speed=0)
    await eng.start()
    from tapedesk.engine.companions import started

    server = await started(eng.companions, "ApiServer")

    decided = [False]
    real_record = eng._record_decision

    def record(dec: Any, *args: Any) -> None:  # (dec, position_id) since the story merge
        decided[0] = True
        real_record(dec, *args)

    eng._record_decision = record
    real_process = eng.process
    tick_ns: list[int] = []
    decision_ns: list[int] = []
    bar = Kind.BAR

    def process(ev: Any) -> None:
        decided[0] = False
        t0 = time.perf_counter_ns()
        real_process(ev)
        dt = time.perf_counter_ns() - t0
        if ev.kind is bar:
            tick_ns.append(dt)
            if decided[0]:
                decision_ns.append(dt)

    eng.process = process
    batch_ms: list[float] = []
    real_batches = eng.feed.batches

    async def batches() -> Any:
        async for batch in real_batches():
            t = time.perf_counter()
            yield batch  # the engine processes, commits and announces it, then asks again
            batch_ms.append((time.perf_counter() - t) * 1000)

    eng.feed.batches = batches
    reader_got = [0]
    clients_proc = None
    session = ws = reading = None
    if scenario == "slow" and server is not None:
        token = load_token(backend).reveal()
        clients_proc = subprocess.Popen(
            [sys.executable, __file__, "--as-clients", server.url, "--clients", str(n_clients),
             "--rcvbuf", str(rcvbuf)],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "BENCH_API_TOKEN": token})
        line = await asyncio.to_thread(clients_proc.stdout.readline)  # the desk keeps serving
        assert line.strip() == "connected", line
        session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})
        ws = await session.ws_connect(f"{server.url}/ws/live", max_msg_size=1 << 22)

        async def read() -> None:
            async for _msg in ws:
                reader_got[0] += 1

        reading = asyncio.ensure_future(read())
        while len(server.hub.clients) < n_clients + 1:
            await asyncio.sleep(0.01)
    if server is not None:
        server.lag._window.clear()  # the lag of the replay itself, not of the connections
    t0 = time.perf_counter()
    await eng.run()
    wall = time.perf_counter() - t0
    await asyncio.sleep(0.3)  # the reading client drains what is queued
    result = {
        "scenario": scenario,
        "bars": eng.bars_seen,
        "bars_per_s": eng.bars_seen / wall,
        "decisions": len(decision_ns),
        "decision_us": [pct(decision_ns, q) / 1000 for q in (50, 90, 99)],
        "tick_p99_us": pct(tick_ns, 99) / 1000,
        "batch_ms": [pct(batch_ms, q) for q in (50, 99, 100)],
        "loop_lag_ms": server.lag.worst() * 1000 if server else None,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ws_messages": server.hub.sent if server else 0,
        "reader_got": reader_got[0],
        "dropped": server.hub.dropped_clients if server else 0,
        # bytes the desk holds for clients that did not read them (their transport buffers)
        "held_kb": sum(t.get_write_buffer_size() for t in server.hub.clients) / 1024
        if server else 0.0,
        "trades": len(eng.trades),
    }
    t_stop = time.perf_counter()
    await eng.stop()  # with every client still connected, the silent ones included
    result["stop_s"] = time.perf_counter() - t_stop
    if reading is not None:
        reading.cancel()
        await ws.close()
        await session.close()
    if clients_proc is not None:
        clients_proc.kill()
        clients_proc.wait()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--days", type=int, default=31)
    p.add_argument("--rcvbuf", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3, help="runs of each scenario")
    p.add_argument("--as-clients", help=argparse.SUPPRESS)
    p.add_argument("--scenario", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.as_clients:
        asyncio.run(clients_main(args.as_clients, args.clients, args.rcvbuf))
        return
    if args.scenario:
        print(json.dumps(asyncio.run(desk_main(args.scenario, args.days, args.clients,
                                               args.rcvbuf))))
        return
    print(f"{args.days} days of real BTCUSDT 1m bars, full speed, 3 strategies; "
          f"{args.clients} silent clients (rcvbuf {args.rcvbuf or 'kernel default'})")
    print(f"{'run':6s} {'bars/s':>8s} {'decision p50/p90/p99 µs':>24s} {'bar p99 µs':>10s} "
          f"{'batch p50/p99/max ms':>21s} {'lag ms':>7s} {'RSS MB':>7s} {'ws msgs':>8s} "
          f"{'reader':>7s} {'dropped':>7s} {'held KB':>7s} {'stop s':>6s}")
    rates: dict[str, list[float]] = {}
    for _round in range(args.repeat):  # interleaved: a busy machine hurts every scenario alike
        for scenario in ("off", "idle", "slow"):
            out = subprocess.run([sys.executable, __file__, "--scenario", scenario, "--days",
                                  str(args.days), "--clients", str(args.clients), "--rcvbuf",
                                  str(args.rcvbuf)], capture_output=True, text=True, check=False)
            if out.returncode:
                print(f"{scenario}: failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rates.setdefault(scenario, []).append(r["bars_per_s"])
            lag = "-" if r["loop_lag_ms"] is None else f"{r['loop_lag_ms']:.1f}"
            d, b = r["decision_us"], r["batch_ms"]
            print(f"{scenario:6s} {r['bars_per_s']:8,.0f} "
                  f"{d[0]:7.1f}/{d[1]:7.1f}/{d[2]:8.1f} {r['tick_p99_us']:10.1f} "
                  f"{b[0]:6.2f}/{b[1]:6.2f}/{b[2]:7.2f} {lag:>7s} {r['rss_mb']:7.1f} "
                  f"{r['ws_messages']:8,d} {r['reader_got']:7,d} {r['dropped']:7d} "
                  f"{r['held_kb']:7.0f} {r['stop_s']:6.2f}")
    print("median bars/s: " + ", ".join(f"{k} {statistics.median(v):,.0f}"
                                        for k, v in rates.items()))
    print(f"(decisions per run: {r['decisions']:,}; trades: {r['trades']:,})")


if __name__ == "__main__":
    main()
