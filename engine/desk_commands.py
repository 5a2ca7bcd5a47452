"""`tapedesk status | trades | halt | resume | paths | reconcile`: commands run beside a desk,
not as one.

They read the journal (read-only, WAL lets them read while a desk writes), ask the desk lock
whether a desk is alive, and reach a running desk through its control socket. None of them
ever creates a journal, a lock or a socket.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from tapedesk.engine.cli import MODES, UserError
from tapedesk.engine.clock import iso
from tapedesk.engine.desk_lock import holder
from tapedesk.engine.paths import data_dir, desk_paths

EXIT_NO_DESK = 1
EXIT_NOT_FLAT = 3


def _running(ddir: Path, modes: list[str] | tuple[str, ...]) -> dict[str, int]:
    """Mode → PID of each desk alive on ``ddir`` (0 when it wrote no PID), by its lock."""
    found = {}
    for mode in modes:
        pid = holder(ddir, mode)
        if pid is not None:
            found[mode] = pid
    return found


def _journal_for(args: argparse.Namespace) -> tuple[str, Path]:
    """``--mode``'s journal; else the running desk's; else the most recently written."""
    from tapedesk.engine.journal_schema import db_path

    ddir = data_dir(args.data_dir, create=False)
    if args.mode:
        return args.mode, db_path(ddir, args.mode)
    found = [(db_path(ddir, m).stat().st_mtime, m) for m in MODES if db_path(ddir, m).exists()]
    if not found:
        raise UserError(f"no journal in {ddir}: no desk has run with this data dir yet")
    alive = [m for m in _running(ddir, MODES) if db_path(ddir, m).exists()]
    if len(alive) == 1:
        return alive[0], db_path(ddir, alive[0])
    mode = max(found)[1]
    return mode, db_path(ddir, mode)


def read_status(mode: str, path: Path) -> dict[str, Any]:
    from tapedesk.engine.journal_reader import open_readonly

    if not path.exists():
        raise UserError(f"no {mode} journal at {path}: no {mode} desk has run there yet")
    conn = open_readonly(path)
    try:
        settings = dict(conn.execute("SELECT key, value FROM settings").fetchall())
        day = conn.execute(
            "SELECT day, trades, losses, realized_pnl, fees, locked, lock_reason "
            "FROM daily_state ORDER BY day DESC LIMIT 1"
        ).fetchone()
        ck = conn.execute("SELECT cursor_ts, engine_state FROM checkpoint WHERE id = 1").fetchone()
    finally:
        conn.close()
    engine_state = json.loads(ck[1]) if ck else {}
    positions = engine_state.get("positions", [])
    strategies = json.loads(settings.get("strategies", "[]"))
    pid = holder(path.parent, mode)
    return {
        "mode": mode,
        "running": pid is not None,
        "pid": pid or None,
        "halted": settings.get("halted") == "1",
        "paused": settings.get("paused") == "1",
        "day": None
        if day is None
        else {
            "day": day[0],
            "trades": day[1],
            "losses": day[2],
            "realized_pnl": day[3],
            "fees": day[4],
            "locked": bool(day[5]),
            "lock_reason": day[6],
        },
        "balance": engine_state.get("balance"),
        "position": positions[0] if positions else None,
        "positions": positions,
        # Open quantity with no stop accepted on the exchange (as of the last commit).
        "unprotected": list(engine_state.get("unprotected", [])),
        "strategies_enabled": [s["name"] for s in strategies if s.get("enabled")],
        "strategies": strategies,
        "last_event": iso(ck[0]) if ck and ck[0] else None,
    }


def _state_words(st: dict[str, Any]) -> tuple[str, str]:
    """(desk line, state line): RUNNING is said only of a desk that holds its lock."""
    flag = "HALTED" if st["halted"] else "PAUSED" if st["paused"] else ""
    d = st["day"] or {}
    locked = f" (day locked: {d['lock_reason']})" if d.get("locked") else ""
    if st["running"]:
        pid = f" (PID {st['pid']})" if st["pid"] else ""
        return f"running{pid}", (flag or "RUNNING") + locked
    last = f", last market event {st['last_event']}" if st["last_event"] else ""
    return (
        f"NOT RUNNING (no desk holds this journal{last})",
        f"last known: {flag or 'entries allowed'}{locked}",
    )


def cmd_status(args: argparse.Namespace) -> int:
    mode, path = _journal_for(args)
    st = read_status(mode, path)
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    desk, state = _state_words(st)
    d = st["day"] or {}
    print(f"mode      {mode}\ndesk      {desk}\nstate     {state}")
    if d:
        print(
            f"day       {d['day']}: {d['trades']} trades, {d['losses']} losses, "
            f"realised {Decimal(d['realized_pnl']):+,.2f} USDT (fees {Decimal(d['fees']):,.2f})"
        )
    print(f"balance   {st['balance'] or '-'} USDT")
    pos = st["position"]
    print(
        "position  "
        + (
            f"{pos['side']} {pos['qty']} {pos['symbol']} @ {pos['entry']} "
            f"(stop {pos.get('stop')}, target {pos.get('tp')})"
            if pos
            else "flat"
        )
    )
    if st["unprotected"]:
        print(f"UNPROTECTED {', '.join(st['unprotected'])}: no stop on the exchange yet "
              "(the desk closes it when the grace period ends)")
    print(f"strategies {', '.join(st['strategies_enabled']) or 'none enabled'}")
    return 0


def read_trades(path: Path, day: str | None = None) -> list[dict[str, Any]]:
    """Closed trades as ``trades --json`` prints them (the local API serves the same)."""
    from tapedesk.engine.clock import parse_time
    from tapedesk.engine.journal import open_readonly, row_to_trade, trade_columns
    from tapedesk.engine.trade_json import trade_json

    conn = open_readonly(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        sql, params = f"SELECT {trade_columns(version)} FROM trades", ()
        if day:
            try:
                start = parse_time(day)
            except ValueError as exc:
                raise UserError(str(exc)) from None
            sql += " WHERE exit_ts >= ? AND exit_ts < ?"
            params = (start, start + 86_400_000)
        trades = [row_to_trade(r) for r in conn.execute(sql + " ORDER BY exit_ts, id", params)]
    finally:
        conn.close()
    return [{**trade_json(t), "id": t.id} for t in trades]


def cmd_trades(args: argparse.Namespace) -> int:
    from tapedesk.engine.trade_json import trade_json

    _mode, path = _journal_for(args)
    if not path.exists():
        raise UserError(f"no journal at {path}: no {_mode} desk has run there yet")
    if getattr(args, "id", None) is not None:  # --id comes from engine/commands/trade_id.py
        return _print_story(path, args)
    rows = read_trades(path, args.day)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.csv:
        cols = list(rows[0]) if rows else [*trade_json.__annotations__, "id"]
        w = csv.DictWriter(sys.stdout, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    else:
        if not rows:
            print("no closed trades")
        for r in rows:
            print(
                f"#{r['id']:<4} {r['exit_time']}  {r['side']:5s} {r['qty']:>8s} {r['symbol']}  "
                f"{r['entry_price']} → {r['exit_price']}  fees {r['fees']}  "
                f"pnl {Decimal(r['pnl']):+,.2f}  {r['strategy']} ({r['reason']})"
            )
        if rows:
            print("(tapedesk trades --id N: one trade's whole story)")
    return 0


def _print_story(path: Path, args: argparse.Namespace) -> int:
    from tapedesk.engine.trade_story import read_story, story_text

    story = read_story(path, args.id)
    if story is None:
        raise UserError(f"no trade #{args.id} in {path} (tapedesk trades lists the ids)")
    print(json.dumps(story, indent=2) if args.json else story_text(story))
    return 0


def _targets(args: argparse.Namespace) -> tuple[Path, dict[str, int]]:
    """The desks a control command goes to: those whose lock is held, plus a listening
    socket without a lock (a desk built outside the CLI)."""
    from tapedesk.engine.control import socket_path

    ddir = data_dir(args.data_dir, create=False)
    modes = [args.mode] if args.mode else list(MODES)
    found = _running(ddir, modes)
    for mode in modes:
        if mode not in found and socket_path(ddir, mode).exists():
            found[mode] = -1  # unlocked: reached only if it answers at once
    return ddir, found


def _pid_words(pid: int) -> str:
    return f" (PID {pid})" if pid > 0 else ""


def cmd_halt(args: argparse.Namespace) -> int:
    from tapedesk.engine.control import send_retrying, socket_path

    ddir, targets = _targets(args)
    timeout = max(float(args.timeout), 1.0)
    reached, code = 0, 0
    for mode, pid in targets.items():
        try:
            answer = send_retrying(
                socket_path(ddir, mode),
                "halt",
                deadline_s=timeout if pid >= 0 else 1.0,
                answer_s=timeout + 10,
                wait=max(timeout - 2, 0.5),
            )
        except TimeoutError:
            print(
                f"{mode} desk{_pid_words(pid)}: did not answer within {timeout:.0f} s; "
                "its emergency stop may still be running: check its screen or log.",
                file=sys.stderr,
            )
            reached, code = reached + 1, EXIT_NOT_FLAT
            continue
        except OSError:
            if pid >= 0:
                print(
                    f"{mode} desk{_pid_words(pid)} is running but its control socket did not "
                    f"accept the halt within {timeout:.0f} s (frozen or overloaded?).",
                    file=sys.stderr,
                )
                reached, code = reached + 1, EXIT_NOT_FLAT
            continue
        reached += 1
        line, flat = _halt_words(answer)
        print(f"{mode} desk{_pid_words(pid)}: {line}")
        if not flat:
            code = EXIT_NOT_FLAT
    if not reached:
        print(f"no desk is running with data dir {ddir}: nothing to halt.", file=sys.stderr)
        return EXIT_NO_DESK
    return code


def _halt_words(answer: dict[str, Any]) -> tuple[str, bool]:
    state = answer.get("state", "?")
    if not answer.get("ok", False):
        return f"halt refused: {answer.get('error', 'no reason given')}", False
    if not answer.get("verified"):
        why = answer.get("error", "the venue did not answer")
        return (
            f"emergency stop sent, state {state}; flat NOT confirmed: could not ask the venue "
            f"({why}). The desk keeps retrying.",
            False,
        )
    if answer.get("flat"):
        return (
            f"emergency stop done, state {state}, verified flat: the venue reports no position "
            "and no open order.",
            True,
        )
    return (
        f"emergency stop NOT complete after {answer.get('waited_s', 0):.0f} s, state {state}: "
        f"the venue still shows {answer.get('positions')} position(s) and "
        f"{answer.get('orders')} open order(s). The desk keeps retrying; its log says why.",
        False,
    )


def _confirm(prompt: str) -> bool:
    print(f"{prompt} [y/N] ", end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        print()
    return line.strip().lower() in ("y", "yes")


def cmd_resume(args: argparse.Namespace) -> int:
    from tapedesk.engine.control import send_retrying, socket_path

    ddir, targets = _targets(args)
    done, code = 0, 0
    for mode, pid in targets.items():
        path = socket_path(ddir, mode)
        deadline = 10.0 if pid >= 0 else 1.0
        try:
            status = send_retrying(path, "status", deadline_s=deadline).get("status", {})
        except OSError:
            continue
        done += 1
        who = f"{mode} desk{_pid_words(pid)}"
        flags = [name.upper() for name in ("halted", "paused") if status.get(name)]
        if not flags:
            print(f"{who}: neither halted nor paused; nothing to resume.")
            continue
        if not args.yes and not _confirm(
            f"Resume the {who}? It is {' and '.join(flags)}; strategies may open new "
            "positions as soon as their signals pass risk."
        ):
            print(f"{who}: left {' and '.join(flags)}.")
            code = 1
            continue
        try:
            answer = send_retrying(path, "resume", deadline_s=deadline)
        except OSError as exc:
            print(f"{who}: the resume did not reach it ({exc}).", file=sys.stderr)
            code = 1
            continue
        if not answer.get("ok"):
            print(f"{who}: resume refused: {answer.get('error')}", file=sys.stderr)
            code = 1
            continue
        print(f"{who}: resumed, state {answer.get('state')}.")
    if not done:
        print(f"no desk is running with data dir {ddir}: nothing to resume.", file=sys.stderr)
        return EXIT_NO_DESK
    return code


def cmd_paths(args: argparse.Namespace) -> int:
    paths = desk_paths(args.data_dir, args.config)
    doc = paths.to_json()
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    rows = [
        ("config", doc["config_file"]),
        ("plugins", doc["plugins_dir"]),
        ("data", doc["data_dir"]),
        *((f"journal {m}", str(p)) for m, p in paths.journals().items()),
        ("sockets", f"{paths.data_dir}/<mode>.sock  (beside the journal they control)"),
        ("locks", f"{paths.data_dir}/<mode>.lock  (one desk per data dir and mode)"),
        ("state", doc["state_dir"]),
        ("logs", f"{paths.log_dir}/desk-<mode>.log  (the TUI's log; headless logs to stderr)"),
        ("runtime", f"{doc['runtime_dir']}  (unused: sockets live beside the journal)"),
    ]
    for name, value in rows:
        print(f"{name:15s} {value}")
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from tapedesk.engine.control import send, socket_path
    from tapedesk.engine.paths import data_dir

    path = socket_path(data_dir(args.data_dir), args.mode)
    if args.key and not args.action:
        raise UserError("say what to do with it: adopt, flatten or ignore")
    try:
        answer = send(path, "reconcile", key=args.key or "", action=args.action or "")
    except OSError:
        raise UserError(f"no {args.mode} desk is running to reconcile") from None
    if not answer.get("ok"):
        raise UserError(answer.get("error", "refused"))
    if answer.get("text"):
        print(answer["text"])
    print(answer.get("describe", ""))
    return 0
