"""A local stand-in for data.binance.vision and /fapi/v1/klines on 127.0.0.1.

Serves whatever bytes a test puts at a path, honours ``Range`` (206/416), and can cut the
connection halfway through a file once (``cut_once``) or answer one REST page with 429
(``rate_limit_once``). Every request is recorded as (path, Range header).
Zips are built from a slice of the bundled real 1m sample, in the archive's CSV layout.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tapedesk.engine.events import Bar

HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
          "taker_buy_volume,taker_buy_quote_volume,ignore")


def kline_csv(bars: list[Bar], header: bool, micros: bool = False) -> str:
    k = 1000 if micros else 1
    lines = [HEADER] if header else []
    for b in bars:
        lines.append(f"{b.open_ts * k},{b.open!r},{b.high!r},{b.low!r},{b.close!r},"
                     f"{b.volume!r},{b.ts * k},{b.volume * b.close!r},10,0,0,0")
    return "\n".join(lines) + "\n"


def zipped(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, text)
    return buf.getvalue()


def checksum(blob: bytes, name: str) -> bytes:
    return f"{hashlib.sha256(blob).hexdigest()}  {name}\n".encode()


class ArchiveServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_once: set[str] = set()
        self.rate_limit_once = False
        self.rest_bars: list[Bar] = []
        self.requests: list[tuple[str, str | None]] = []
        self._httpd: ThreadingHTTPServer | None = None

    def put(self, path: str, blob: bytes, published: bytes | None = None) -> None:
        """A zip and its .CHECKSUM (of ``published``, default the zip itself)."""
        name = path.rsplit("/", 1)[-1]
        self.files[path] = blob
        self.files[path + ".CHECKSUM"] = checksum(published or blob, name)

    def put_month(self, symbol: str, interval: str, month: str, bars: list[Bar],
                  header: bool = True, kind: str = "klines") -> str:
        name = f"{symbol}-{interval}-{month}.zip"
        path = f"/data/futures/um/monthly/{kind}/{symbol}/{interval}/{name}"
        self.put(path, zipped(name.replace(".zip", ".csv"), kline_csv(bars, header)))
        return path

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                rng = self.headers.get("Range")
                server.requests.append((url.path, rng))
                if url.path == "/fapi/v1/klines":
                    return self._klines(parse_qs(url.query))
                body = server.files.get(url.path)
                if body is None:
                    return self._send(404, b'<Error><Code>NoSuchKey</Code></Error>')
                start = 0
                if rng:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        return self._send(416, b"", {"Content-Range": f"bytes */{len(body)}"})
                part = body[start:]
                status = 206 if rng else 200
                extra = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"} if rng \
                    else {}
                if url.path in server.cut_once:
                    server.cut_once.discard(url.path)
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(part)))
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # the cut: half a file, then nothing
                    return None
                return self._send(status, part, extra)

            def _klines(self, q: dict[str, list[str]]) -> None:
                if server.rate_limit_once:
                    server.rate_limit_once = False
                    return self._send(429, b'{"code":-1003}', {"Retry-After": "0"})
                start = int(q["startTime"][0])
                end = int(q.get("endTime", ["9" * 15])[0])
                limit = int(q.get("limit", ["500"])[0])
                page = [[b.open_ts, str(b.open), str(b.high), str(b.low), str(b.close),
                         str(b.volume), b.ts, "0", 1, "0", "0", "0"]
                        for b in server.rest_bars if start <= b.open_ts <= end][:limit]
                self._send(200, json.dumps(page).encode(), {"X-MBX-USED-WEIGHT-1M": "10"})

            def _send(self, status: int, body: bytes, extra: dict[str, str] | None = None,
                      ) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
