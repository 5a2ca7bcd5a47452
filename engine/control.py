"""The local control channel: `tapedesk halt` from another shell reaches a running desk.

A UNIX socket in the data directory, owner-only (0600 inside a 0700 directory), one JSON
request per line and one JSON answer per line. Only the owner of the data dir can talk to it,
which is the same trust boundary as the journal itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio  # annotations only: a backtest never starts an event loop

COMMANDS = ("ping", "halt", "pause", "resume", "status", "reconcile", "close",
            "stop_to_breakeven")
#: How long the desk waits for its emergency stop to verify flat before answering `halt`.
HALT_WAIT_S = 20.0
#: Connection errors that mean "busy or not listening yet", not "no desk".
_BUSY = (BlockingIOError, InterruptedError, ConnectionRefusedError, FileNotFoundError)


def socket_path(data_dir: Path, mode: str) -> Path:
    return Path(data_dir) / f"{mode}.sock"


class ControlServer:
    def __init__(self, engine: Any, path: Path) -> None:
        self.engine = engine
        self.path = Path(path)
        self._server: asyncio.AbstractServer | None = None
        self._bound = False

    async def start(self) -> None:
        # The desk lock (engine.desk_lock) already keeps a second desk out; this ping is the
        # guard for desks built without the CLI (tests, scripts).
        import asyncio

        if self.path.exists():
            if _alive(self.path):
                raise RuntimeError(
                    f"another desk is already running on {self.path.parent} "
                    f"({self.path.name}); stop it first or use another --data-dir"
                )
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._client, path=str(self.path))
        finally:
            os.umask(old)
        self._bound = True
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        if self._bound:  # only the socket this desk made: never a running desk's
            self._bound = False
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import asyncio

        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            try:
                request = json.loads(line or b"{}")
                cmd = request.get("cmd", "")
            except (ValueError, AttributeError):
                request, cmd = {}, ""
            answer = await self._handle(cmd, request)
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except Exception as exc:  # a bad client never hurts the desk
            with contextlib.suppress(Exception):
                writer.write(json.dumps({"ok": False, "error": str(exc)}).encode() + b"\n")
        finally:
            writer.close()

    async def _handle(self, cmd: str, request: dict[str, Any]) -> dict[str, Any]:
        eng = self.engine
        if cmd == "ping":
            return {"ok": True, "mode": eng.mode}
        if cmd == "halt":
            return await self._halt(_number(request.get("wait"), HALT_WAIT_S))
        if cmd == "pause":
            await eng.pause()
            return {"ok": True}
        if cmd == "resume":
            was = [name for name in ("halted", "paused") if getattr(eng, name, False)]
            if eng.halted:
                try:
                    await eng.resume_from_halt()
                except ValueError as exc:
                    return {"ok": False, "error": str(exc)}
            if eng.paused:
                await eng.resume()
            return {"ok": True, "was": was, "state": str(eng.snapshot().state)}
        if cmd == "reconcile":
            rec = eng.reconciliation
            if request.get("key"):
                try:
                    text = await eng.resolve_difference(request["key"], request.get("action", ""))
                except (KeyError, ValueError) as exc:
                    return {"ok": False, "error": str(exc)}
                return {"ok": True, "text": text, "describe": eng.reconciliation.describe()}
            return {"ok": True, "describe": rec.describe() if rec else "Nothing to reconcile."}
        if cmd == "status":
            return {"ok": True, "status": eng.snapshot().to_json()}
        if cmd in ("close", "stop_to_breakeven"):
            from tapedesk.engine.position_actions import act_and_wait

            return await act_and_wait(eng, cmd, str(request.get("symbol", "")),
                                      _number(request.get("wait"), 10.0))
        return {"ok": False, "error": f"unknown command {cmd!r}; known: {', '.join(COMMANDS)}"}

    async def _halt(self, wait: float) -> dict[str, Any]:
        return await halt_and_verify(self.engine, wait)


async def halt_and_verify(eng: Any, wait: float = HALT_WAIT_S) -> dict[str, Any]:
    """Emergency stop, then what the venue says: the answer is what was verified (also
    the Telegram bot's /halt).

    Waits up to ``wait`` seconds for the stop to finish (it retries until flat); then
    asks the venue itself for positions and open orders, the same check the stop makes.
    """
    import asyncio

    timed_out = False
    try:
        await asyncio.wait_for(asyncio.shield(eng.emergency_stop()), wait)
    except TimeoutError:
        timed_out = True
    answer: dict[str, Any] = {"ok": True, "timed_out": timed_out, "waited_s": wait}
    try:
        positions = await asyncio.wait_for(eng.venue.fetch_positions(), 5)
        orders = await asyncio.wait_for(eng.venue.fetch_open_orders(), 5)
    except Exception as exc:  # the venue down: say so, claim nothing
        answer.update(verified=False, flat=False, error=f"{type(exc).__name__}: {exc}")
    else:
        answer.update(
            verified=True,
            flat=not positions and not orders,
            positions=len(positions),
            orders=len(orders),
        )
    answer["state"] = str(eng.snapshot().state)
    return answer


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, 0.0), 600.0) if number == number else default


def _alive(path: Path) -> bool:
    try:
        send(path, "ping", timeout=2)
        return True
    except OSError:
        return False


def send(path: Path, cmd: str, timeout: float = 60.0, **fields: Any) -> dict[str, Any]:
    """Blocking client for the CLI; raises OSError when no desk listens there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(json.dumps({"cmd": cmd, **fields}).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf or b"{}")


def send_retrying(
    path: Path, cmd: str, *, deadline_s: float, answer_s: float = 60.0, **fields: Any
) -> dict[str, Any]:
    """``send``, retried while the desk is busy (backlog full: EAGAIN) or not listening yet.

    For a desk known to be running (its lock is held): only the deadline ends the retries.
    Raises the last OSError when it passes.
    """
    end = time.monotonic() + deadline_s
    delay = 0.05
    while True:
        try:
            return send(path, cmd, timeout=answer_s, **fields)
        except _BUSY:
            if time.monotonic() + delay > end:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
