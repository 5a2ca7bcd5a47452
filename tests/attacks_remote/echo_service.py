"""A notification service that answers every request with an error whose body echoes the
request (path, query and Authorization header), as careless real services do."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class EchoingError:
    def __init__(self, status: int = 500) -> None:
        self.requests = 0
        svc = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                svc.requests += 1
                echo = (f"error for {self.path} auth={self.headers.get('Authorization')} "
                        f"body={body[:200]!r}").encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(echo)))
                self.end_headers()
                self.wfile.write(echo)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
