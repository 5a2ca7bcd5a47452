"""A local stand-in for a notification service's HTTP API (Apprise ``json://``): it records
every request it gets, so tests count what reached "the service"."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Hook:
    """``json://127.0.0.1:PORT/hook`` answers 200 and keeps each JSON body in ``received``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.auth: list[str] = []
        self._cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._cond:
                    hook.paths.append(self.path)
                    hook.auth.append(self.headers.get("Authorization", ""))
                    hook.received.append(json.loads(body or b"{}"))
                    hook._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def wait_for(self, pred: Any, timeout: float = 10.0) -> bool:
        """Until ``pred(received)`` holds (True) or ``timeout`` passes (False)."""
        end = time.monotonic() + timeout
        with self._cond:
            while not pred(self.received):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    async def until(self, pred: Any, timeout: float = 10.0) -> bool:
        """``wait_for`` for a test on the event loop (which must keep running meanwhile)."""
        import asyncio

        end = time.monotonic() + timeout
        while not pred(self.received):
            if time.monotonic() > end:
                return False
            await asyncio.sleep(0.02)
        return True

    def bodies(self) -> str:
        return "\n".join(f"{m.get('title', '')}\n{m.get('message', '')}" for m in self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def dead_url() -> str:
    """A json:// URL on a port nothing listens on: every send is refused at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"json://127.0.0.1:{port}/hook"


class Blackhole:
    """Accepts connections and never answers: the slowest kind of dead endpoint."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(100)
        self.port = self.sock.getsockname()[1]
        self._held: list[Any] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)

    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        for c in self._held:
            c.close()
