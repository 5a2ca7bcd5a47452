"""The local control channel: `tapedesk halt` from another shell reaches a running desk.

A UNIX socket in the data directory, owner-only (0600 inside a 0700 directory), one JSON
request per line and one JSON answer per line. Only the owner of the data dir can talk to it,
which is the same trust boundary as the journal itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any

COMMANDS = ("ping", "halt", "pause", "resume", "status", "reconcile")


def socket_path(data_dir: Path, mode: str) -> Path:
    return Path(data_dir) / f"{mode}.sock"


class ControlServer:
    def __init__(self, engine: Any, path: Path) -> None:
        self.engine = engine
        self.path = Path(path)
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
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
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
            await eng.emergency_stop()
            snap = eng.snapshot()
            return {"ok": True, "state": str(snap.state), "flat": not snap.positions}
        if cmd == "pause":
            await eng.pause()
            return {"ok": True}
        if cmd == "resume":
            await eng.resume()
            return {"ok": True}
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
        return {"ok": False, "error": f"unknown command {cmd!r}; known: {', '.join(COMMANDS)}"}


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
