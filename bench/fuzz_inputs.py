"""Mutation sweep: mangled copies of the real samples through the real `tapedesk` commands.

Builds small slices of each supported data layout from the bundled/shared samples, applies
one seeded mutation per copy (byte flips, truncated gzip, invalid UTF-8, NaN/inf/1e308/negative
prices, timestamps in 1900/2100/1e20, lists where strings belong, directories, ...), runs
``tapedesk backtest --data <copy>`` on each (plus a few ``demo``/``run`` and config cases) and
prints how many runs showed a traceback, an "unexpected error" line, a timeout, or a
multi-line error. Every fifth file also goes through ``run --headless --replay``. A run
passes when it exits 0, or exits non-zero with one stderr line per problem and no traceback
("one_line": every error line starts with ``tapedesk: ``).

    python bench/fuzz_inputs.py [--files 300] [--configs 60] [--seed 7] [--jobs 2]
                                [--replay-every 5] [--keep DIR]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import gzip
import json
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path("/work/shared/data")
SAMPLES = ROOT / "engine" / "sample_data"
TIMEOUT_S = 60


# -- seed slices, one per layout ------------------------------------------------------------

def _lines_of(path: Path, n: int) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        out = []
        for line in fh:
            out.append(line.rstrip("\n"))
            if len(out) >= n:
                break
    return out


def seeds(work: Path) -> dict[str, str]:
    """layout name → text of a small real slice (≈ 300 rows)."""
    out: dict[str, str] = {}
    naut = _lines_of(SAMPLES / "btc-perp-20211231-20220201_1m.csv.gz", 301)
    out["ohlcv_csv"] = "\n".join(naut) + "\n"
    from datetime import datetime

    rows12, rows6 = [], []
    for line in naut[1:]:
        t, o, h, lo, c, v = line.split(",")
        ms = int(datetime.fromisoformat(t).timestamp() * 1000)  # local tz irrelevant: relative
        rows12.append(f"{ms},{o},{h},{lo},{c},{v},{ms + 59_999},0,10,0,0,0")
        rows6.append([ms, o, h, lo, c, v, ms + 59_999, "0", 10, "0", "0", "0"])
    out["binance_csv"] = "\n".join(rows12) + "\n"
    out["binance_json"] = json.dumps(rows6)
    ninja = SHARED / "klines/ninjabot_btc-1h.csv"
    if ninja.exists():
        out["ninjabot_csv"] = "\n".join(_lines_of(ninja, 300)) + "\n"
    ft = SHARED / "klines/freqtrade_orderflow_candles_5m.json"
    if ft.exists():
        doc = json.loads(ft.read_text())
        keep = list(doc["date"])[:300]
        out["freqtrade_json"] = json.dumps(
            {c: {k: doc[c][k] for k in keep} for c in ("date", "open", "high", "low", "close",
                                                       "volume")})
    out["ws_capture"] = "\n".join(_lines_of(SAMPLES / "usdm_btcusdt_20240808.gz", 1500)) + "\n"
    return out


# -- mutations ------------------------------------------------------------------------------

NUMBERS = ["NaN", "nan", "inf", "-inf", "1e308", "1e400", "-5", "0", "-0", "1e-320", "",
           "99999999999999999999999", "0x10", "1_000"]
TIMES = ["0", "-1", "1", "100000000000000000000", "4102444800000", "-62135596800000",
         "9999999999999", "1e20", "nan", "1900-01-01 00:00:00", "2100-01-01 00:00:00",
         "0001-01-01 00:00:00", "9999-12-31 23:59:59", "2022-13-45 99:99:99"]


def _field_mutation(text: str, rng: random.Random, pool: list[str]) -> str:
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    if "," in lines[i] and not lines[i].lstrip().startswith(("{", "[", "0 {")):
        f = lines[i].split(",")
        j = 0 if pool is TIMES else rng.randrange(1, len(f)) if len(f) > 1 else 0
        f[j] = rng.choice(pool)
        lines[i] = ",".join(f)
        return "\n".join(lines)
    # JSON-ish: replace a quoted number or a bare number
    import re

    spots = [m.span() for m in re.finditer(r'"?-?\d[\d.eE+-]*"?', text)]
    if not spots:
        return text
    a, b = rng.choice(spots)
    val = rng.choice(pool)
    rep = f'"{val}"' if text[a] == '"' else (val if val and not val[0].isalpha() else f'"{val}"')
    return text[:a] + rep + text[b:]


def mutate(text: str, rng: random.Random) -> tuple[str, bytes | str]:
    """One named mutation of ``text``: returns (name, new content)."""
    kind = rng.choice([
        "flip_bytes", "bad_utf8", "bad_number", "bad_time", "drop_lines", "dup_lines",
        "swap_lines", "truncate", "gzip_truncate", "gzip_flip", "json_types", "one_far_bar",
        "empty", "binary_junk", "long_line", "crlf",
    ])
    raw = text.encode()
    if kind == "flip_bytes":
        b = bytearray(raw)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return kind, bytes(b)
    if kind == "bad_utf8":
        i = rng.randrange(len(raw))
        return kind, raw[:i] + rng.choice([b"\xff\xfe", b"\xc3", b"\x80\x80", b"\x00"]) + raw[i:]
    if kind == "bad_number":
        return kind, _field_mutation(text, rng, NUMBERS)
    if kind == "bad_time":
        return kind, _field_mutation(text, rng, TIMES)
    lines = text.split("\n")
    if kind == "drop_lines":
        for _ in range(rng.randint(1, 5)):
            if len(lines) > 1:
                del lines[rng.randrange(len(lines))]
        return kind, "\n".join(lines)
    if kind == "dup_lines":
        i = rng.randrange(len(lines))
        lines[i:i] = [lines[i]] * rng.randint(1, 4)
        return kind, "\n".join(lines)
    if kind == "swap_lines":
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        return kind, "\n".join(lines)
    if kind == "truncate":
        return kind, raw[: rng.randrange(len(raw))]
    if kind == "gzip_truncate":
        z = gzip.compress(raw)
        return kind, z[: rng.randrange(10, len(z) - 1)]
    if kind == "gzip_flip":
        z = bytearray(gzip.compress(raw))
        for _ in range(rng.randint(1, 5)):
            z[rng.randrange(10, len(z))] = rng.randrange(256)
        return kind, bytes(z)
    if kind == "json_types":
        import re

        reps = ['[1, 2]', '{"a": 1}', "null", "true", '"x"', "[]"]
        spots = [m.span() for m in re.finditer(r'"[^"\n]{0,20}"', text)]
        if not spots:
            return kind, text
        a, b = rng.choice(spots)
        return kind, text[:a] + rng.choice(reps) + text[b:]
    if kind == "one_far_bar":
        return kind, _field_mutation(text, rng, ["4102444800000", "2100-01-01 00:00:00"])
    if kind == "empty":
        return kind, rng.choice([b"", b"\n\n", b" "])
    if kind == "binary_junk":
        return kind, bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096)))
    if kind == "long_line":
        i = rng.randrange(len(lines))
        lines[i] = lines[i] + "," * rng.randint(1, 50) + "9" * rng.randint(1, 5000)
        return kind, "\n".join(lines)
    return kind, text.replace("\n", "\r\n")


# -- configs --------------------------------------------------------------------------------

BASE_CONFIG = (ROOT / "engine" / "example_config.toml").read_text()
CONFIG_CASES = [
    '[[strategies]]\nname = "ema_crosss"\n',
    '[[strategies]]\nname = "ema_cross"\nparams = { fastt = 3 }\n',
    '[[strategies]]\nname = "ema_cross"\nparams = { fast = "x" }\n',
    '[[strategies]]\nname = "ema_cross"\nparams = { fast = inf }\n',
    '[[strategies]]\nname = "ema_cross"\nparams = { stop_pct = nan }\n',
    '[[strategies]]\nname = "ema_cross"\nparams = { fast = 1.5 }\n',
    '[[strategies]]\nname = ["a"]\n',
    "[risk]\nmax_leverage = 1e400\n",
    '[paper]\ninitial_balance = "NaN"\n',
    "[paper]\ninitial_balance = inf\n",
    'symbols = []\n', 'symbols = [""]\n', "symbols = [1]\n", "[risk\n", "risk = 3\n",
]


def config_variants(rng: random.Random, n: int) -> list[tuple[str, bytes]]:
    out = [("case", c.encode()) for c in CONFIG_CASES]
    while len(out) < n:
        kind, content = mutate(BASE_CONFIG, rng)
        out.append((f"cfg_{kind}", content if isinstance(content, bytes) else content.encode()))
    return out[:n]


# -- running ------------------------------------------------------------------------------

def run(cmd: list[str], cwd: Path) -> tuple[str, int, str]:
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S,
                           errors="replace")
    except subprocess.TimeoutExpired:
        return "timeout", -1, ""
    err = p.stderr
    if "Traceback" in err:
        return "traceback", p.returncode, err.strip().splitlines()[-1][:160]
    if "unexpected error" in err:
        return "unexpected", p.returncode, err.strip()[:160]
    if p.returncode == 0:
        return "ok", 0, ""
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning:")
             and not ln.startswith("usage:")]
    # A config with several problems gets one "tapedesk: <file>: <field>: ..." line each.
    per_problem = len(lines) <= 1 or all(ln.startswith("tapedesk: ") for ln in lines)
    return ("one_line" if per_problem else "multi_line"), p.returncode, err.strip()[:160]


def _expand(cmd: list[str], exe_cmd: list[str]) -> list[str]:
    return [part for c in cmd for part in (exe_cmd if c == "\0EXE" else [c])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--configs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--replay-every", type=int, default=5,
                    help="also run every Nth mutated file through run --headless --replay")
    ap.add_argument("--keep", type=Path, help="keep the mutated files here")
    ap.add_argument("--exe", help="command to test instead of the tapedesk script, e.g. "
                                  "'python -m tapedesk' with PYTHONPATH=<another checkout>")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    exe_cmd = shlex.split(args.exe) if args.exe else [shutil.which("tapedesk") or "tapedesk"]
    exe = "\0EXE"
    work = Path(args.keep or tempfile.mkdtemp(prefix="tapedesk-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    base = seeds(work)
    jobs: list[tuple[str, list[str]]] = []
    names = sorted(base)
    for i in range(args.files):
        layout = names[i % len(names)]
        kind, content = mutate(base[layout], rng)
        data = content if isinstance(content, bytes) else content.encode()
        if rng.random() < 0.3 and not kind.startswith("gzip"):
            data = gzip.compress(data)
        path = work / f"{i:04d}_{layout}_{kind}.dat"
        path.write_bytes(data)
        jobs.append((f"backtest/{layout}/{kind}", [exe, "backtest", "--data", str(path),
                                                    "--no-progress"]))
        if i % args.replay_every == 0:
            jobs.append((f"replay/{layout}/{kind}", [
                exe, "--data-dir", str(work / f"rd{i}"), "run", "--headless", "--replay",
                str(path), "--speed", "0"]))
    (work / "a_directory.csv").mkdir(exist_ok=True)
    jobs.append(("backtest/directory", [exe, "backtest", "--data", str(work / "a_directory.csv")]))
    for speed in ("-5", "nan", "inf"):
        jobs.append((f"demo/speed {speed}", [exe, "--data-dir", str(work / "dd"), "demo",
                                             "--speed", speed]))
    clean = work / "clean_ohlcv.csv"
    clean.write_text(base["ohlcv_csv"])
    for j, (kind, content) in enumerate(config_variants(rng, args.configs)):
        cfg = work / f"config_{j:03d}.toml"
        cfg.write_bytes(content)
        jobs.append((f"config/{kind}", [exe, "--config", str(cfg), "--data-dir",
                                        str(work / f"dd{j}"), "run", "--headless", "--replay",
                                        str(clean), "--speed", "0"]))
    t0 = time.monotonic()
    results: list[tuple[str, str, int, str]] = []
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        futs = {pool.submit(run, _expand(cmd, exe_cmd), work): name for name, cmd in jobs}
        for fut in cf.as_completed(futs):
            outcome, code, tail = fut.result()
            results.append((futs[fut], outcome, code, tail))
    dt = time.monotonic() - t0
    by = Counter(o for _, o, _, _ in results)
    print(f"{len(results)} runs in {dt:.0f} s (files in {work})")
    groups = sorted({n.split("/")[0] for n, *_ in results})
    print(f"  {'':10s} {'all':>5s} " + " ".join(f"{g:>9s}" for g in groups))
    for outcome in ("ok", "one_line", "multi_line", "traceback", "unexpected", "timeout"):
        per = Counter(n.split("/")[0] for n, o, _, _ in results if o == outcome)
        print(f"  {outcome:10s} {by.get(outcome, 0):5d} "
              + " ".join(f"{per.get(g, 0):9d}" for g in groups))
    bad = [r for r in results if r[1] in ("traceback", "unexpected", "timeout", "multi_line")]
    kinds = Counter(t.split(":")[0] for _, o, _, t in bad if o == "traceback")
    if kinds:
        print("traceback kinds:")
        for k, n in kinds.most_common():
            print(f"  {n:4d}  {k}")
    for name, outcome, code, tail in sorted(bad)[:40]:
        print(f"  {outcome:10s} rc={code:3d} {name}: {tail}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
