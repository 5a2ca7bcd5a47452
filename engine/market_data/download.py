"""Fetch archive files and REST klines: checksummed, parallel, resumable, rate-limit aware.

A zip is streamed to ``partial/<name>.part``; an interrupted transfer (connection cut, the
program stopped) resumes from the bytes on disk with ``Range: bytes=N-`` (a server that
ignores Range answers 200 and the file starts over). The whole file is then checked against
the archive's published SHA-256 (``.CHECKSUM``): a mismatch deletes the partial file — a
corrupt file is never kept — and downloads again from scratch, ``retries`` times at most.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from tapedesk.engine.market_data.archive import ArchiveFile, parse_checksum

#: Binance allows 2,400 request weight a minute; a klines page of 1,500 costs 10. Above this
#: the pager waits for the next minute instead of risking a 429 (and, repeated, a 418 ban).
WEIGHT_SOFT_LIMIT = 2000
#: A Retry-After longer than this (an IP ban runs minutes to days) is reported, not slept
#: through behind a still progress bar.
MAX_RETRY_WAIT = 120.0
REST_PAGE = 1500

Sleep = Callable[[float], Awaitable[Any]]


class DownloadError(Exception):
    """A file that could not be fetched intact; the message says what happened."""


class Fetcher:
    """One aiohttp session's worth of archive and REST requests, ``parallel`` at a time."""

    def __init__(self, session: aiohttp.ClientSession, archive_url: str, rest_url: str,
                 partial: Path, *, parallel: int = 4, retries: int = 3, backoff: float = 1.0,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.session = session
        self.archive_url = archive_url
        self.rest_url = rest_url
        self.partial = partial
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.gate = asyncio.Semaphore(parallel)
        self.bytes_fetched = 0

    async def archive_file(self, af: ArchiveFile) -> bytes | None:
        """The verified bytes of ``af``, or None when the archive does not have it (404)."""
        async with self.gate:
            checksum = await self._small(af.checksum_path)
            if checksum is None:
                return None
            try:
                expected = parse_checksum(checksum, af.name)
            except ValueError as exc:
                raise DownloadError(str(exc)) from None
            return await self._verified(af, expected)

    def part_path(self, af: ArchiveFile) -> Path:
        """Where ``af`` is downloaded to; klines and mark-price zips share a file name, so
        the archive folder is part of it."""
        return self.partial / (af.path.removeprefix("data/futures/um/").replace("/", "_")
                               + ".part")

    def forget(self, af: ArchiveFile) -> None:
        """Drop the partial copy of ``af`` (after it was stored, or found unusable)."""
        self.part_path(af).unlink(missing_ok=True)

    async def _small(self, path: str) -> str | None:
        url = f"{self.archive_url}/{path}"
        for attempt in range(self.retries + 1):
            try:
                async with self.session.get(url) as resp:
                    if resp.status == 404:
                        return None
                    if resp.status != 200:
                        raise DownloadError(f"{path}: HTTP {resp.status}")
                    return await resp.text()
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt == self.retries:
                    raise DownloadError(f"{path}: {_why(exc)}") from None
                await self.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _verified(self, af: ArchiveFile, expected: str) -> bytes | None:
        url = f"{self.archive_url}/{af.path}"
        part = self.part_path(af)
        part.parent.mkdir(parents=True, exist_ok=True)
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                if await self._transfer(url, part) is None:
                    return None
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"transfer interrupted ({_why(exc)}); {_size(part)} kept to resume"
                continue
            blob = part.read_bytes()
            got = hashlib.sha256(blob).hexdigest()
            if got == expected:
                return blob
            part.unlink(missing_ok=True)  # never keep a file that is not the published one
            problem = (f"checksum mismatch (published {expected[:12]}…, got {got[:12]}…); "
                       "the file was deleted")
        raise DownloadError(f"{af.name}: {problem}")

    async def _transfer(self, url: str, part: Path) -> bool | None:
        """Fill ``part`` from the server, resuming what it holds. None: 404."""
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        async with self.session.get(url, headers=headers) as resp:
            if resp.status == 404:
                return None
            if resp.status == 416 and have:  # nothing after what we hold: it is complete
                return True
            if resp.status == 206 and _range_start(resp) == have:
                mode = "ab"
            elif resp.status == 200:
                mode = "wb"  # the server ignored Range (or there was nothing to resume)
            else:
                raise DownloadError(f"{url.rsplit('/', 1)[-1]}: HTTP {resp.status}")
            with open(part, mode) as fh:
                async for chunk in resp.content.iter_chunked(1 << 16):
                    fh.write(chunk)
                    self.bytes_fetched += len(chunk)
        return True

    async def rest_klines(self, symbol: str, interval: str, start_ms: int, end_ms: int,
                          step: int, now_ms: int) -> list[list[Any]]:
        """Closed klines with ``start_ms <= open < end_ms``, paged 1,500 at a time."""
        out: list[list[Any]] = []
        t = start_ms
        while t < end_ms:
            params = {"symbol": symbol, "interval": interval, "startTime": str(t),
                      "endTime": str(end_ms - 1), "limit": str(REST_PAGE)}
            page = await self._rest_page(params)
            page = [k for k in page if isinstance(k, list) and len(k) > 6
                    and isinstance(k[0], int) and isinstance(k[6], int)
                    and t <= k[0] < end_ms and k[6] < now_ms]  # only closed bars, asked for
            if not page:
                break
            out.extend(page)
            t = int(page[-1][0]) + step
        return out

    async def _rest_page(self, params: dict[str, str]) -> list[Any]:
        url = f"{self.rest_url}/fapi/v1/klines"
        for attempt in range(self.retries + 1):
            try:
                async with self.gate, self.session.get(url, params=params) as resp:
                    if resp.status in (418, 429):  # rate limited (418: banned for a while)
                        wait = float(resp.headers.get("Retry-After") or 60)
                        if attempt == self.retries or wait > MAX_RETRY_WAIT:
                            raise DownloadError(f"REST klines: HTTP {resp.status} (rate "
                                                f"limited; retry after {wait:g} s)")
                        await self.sleep(wait)
                        continue
                    if resp.status != 200:
                        raise DownloadError(f"REST klines: HTTP {resp.status}: "
                                            f"{(await resp.text())[:120]}")
                    used = int(resp.headers.get("X-MBX-USED-WEIGHT-1M") or 0)
                    page = await resp.json(content_type=None)
                if used > WEIGHT_SOFT_LIMIT:
                    await self.sleep(60 - time.time() % 60 + 1)
                if not isinstance(page, list):
                    raise DownloadError(f"REST klines: unexpected answer {str(page)[:120]}")
                return page
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                if attempt == self.retries:
                    raise DownloadError(f"REST klines: {_why(exc)}") from None
                await self.sleep(self.backoff * 2**attempt)
        raise DownloadError("REST klines: still rate limited")


def _range_start(resp: aiohttp.ClientResponse) -> int:
    text = resp.headers.get("Content-Range", "")  # "bytes 100-999/1000"
    try:
        return int(text.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return -1


def _size(path: Path) -> str:
    n = path.stat().st_size if path.exists() else 0
    return f"{n:,} bytes"


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
