"""A second local stand-in on 127.0.0.1 for the attacks tests/market_data's server cannot
stage: a transfer that stalls halfway (so the client can be SIGKILLed mid-file) and a
scripted sequence of REST answers (429, 418, garbage JSON, ...) before the real pages."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tapedesk.engine.events import Bar


class ScriptedServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.stall: set[str] = set()  # paths served halfway, then held open until release
        self.stalled = threading.Event()  # set once a stalled transfer has sent its half
        self.release = threading.Event()
        self.rest_script: list[tuple[int, dict[str, str], bytes]] = []
        self.rest_bars: list[Bar] = []
        self.rest_ignores_start = False  # a proxy that drops the query: always page one
        self.requests: list[tuple[str, str | None]] = []
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> str:
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                rng = self.headers.get("Range")
                srv.requests.append((url.path, rng))
                if url.path == "/fapi/v1/klines":
                    if srv.rest_script:
                        return self._send(*srv.rest_script.pop(0))
                    q = parse_qs(url.query)
                    lo, hi = int(q["startTime"][0]), int(q["endTime"][0])
                    if srv.rest_ignores_start:
                        lo = 0
                    limit = int(q["limit"][0])
                    page = [[b.open_ts, str(b.open), str(b.high), str(b.low), str(b.close),
                             str(b.volume), b.ts, "0", 1, "0", "0", "0"]
                            for b in srv.rest_bars if lo <= b.open_ts <= hi][:limit]
                    return self._send(200, {}, json.dumps(page).encode())
                body = srv.files.get(url.path)
                if body is None:
                    return self._send(404, {}, b"<Error><Code>NoSuchKey</Code></Error>")
                start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
                if start >= len(body) and rng:
                    return self._send(416, {"Content-Range": f"bytes */{len(body)}"}, b"")
                part = body[start:]
                head = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"} \
                    if rng else {}
                if url.path in srv.stall:
                    srv.stall.discard(url.path)
                    self.send_response(206 if rng else 200)
                    self.send_header("Content-Length", str(len(part)))
                    for k, v in head.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    srv.stalled.set()
                    srv.release.wait(30)
                    self.close_connection = True
                    return None
                return self._send(206 if rng else 200, head, part)

            def _send(self, status: int, extra: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self.release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
