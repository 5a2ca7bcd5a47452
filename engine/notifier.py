"""The notification companion: tells a trader who is away, through Apprise, off the engine's
path (issue #12).

Engine → subscription (bounded, drops its oldest, never blocks the engine) → ``Classifier``
→ one ``Digest`` per service (bounded by folding) → that service's sender task, which waits
for the batch window (urgent kinds: not) and a token of its bucket, then sends everything
waiting as one message. Apprise's ``notify`` blocks (HTTP), so it runs in a daemon thread:
a dead or slow service holds up only its own sender, never the engine, the other services or
the desk's exit. A failed send is logged at WARNING (the log forwarder shows it on the desk as
a DESK line, not an ERROR that would be notified again) and dropped: never fatal.

Two notification kinds have no engine event of their own; a watch task derives them twice a
second: UNPROTECTED (a symbol in ``orders.unprotected()`` for ``unprotected_after_s``; the
ERROR said when the grace runs out is also sent) and reconnect storms (``storm_reconnects``
reconnects of the market or user-data stream supervisors within ``storm_window_s``, counted
from each supervisor's ``restarts`` list so a reconnect shorter than the watch's period is
still counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from tapedesk.engine.desk_log import redact
from tapedesk.engine.notify_config import NotifyConfig
from tapedesk.engine.notify_digest import Classifier, Digest, Note, TokenBucket

log = logging.getLogger("tapedesk.notify")
WATCH_S = 0.5
CLOSE_FLUSH_S = 2.0


def in_daemon_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
    """Run blocking ``fn`` in a daemon thread: unlike ``asyncio.to_thread``, a send stuck on a
    dead endpoint never makes the interpreter wait for it at exit."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not fut.done():
            fut.set_result(value) if ok else fut.set_exception(value)

    def run() -> None:
        try:
            result, ok = fn(*args, **kwargs), True
        except Exception as exc:
            result, ok = exc, False
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, ok, result)

    threading.Thread(target=run, daemon=True, name="tapedesk-notify-send").start()
    return fut


class Service:
    """One Apprise target with its own digest, bucket and sender task."""

    def __init__(self, name: str, apprise_obj: Any, cfg: NotifyConfig) -> None:
        self.name = name
        self.apprise = apprise_obj
        self.cfg = cfg
        self.digest = Digest()
        self.bucket = TokenBucket(cfg.burst, cfg.per_minute)
        self.wake = asyncio.Event()
        self.sent = self.failed = 0
        self.task: asyncio.Task[None] | None = None

    def add(self, note: Note) -> None:
        self.digest.add(note)
        self.wake.set()

    async def run(self) -> None:
        while True:
            while not self.digest:
                self.wake.clear()
                await self.wake.wait()
            # Wait for the window (an urgent note arriving meanwhile cuts it short)…
            while (delay := self.digest.due(self.cfg.batch_window_s) - time.monotonic()) > 0:
                self.wake.clear()
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel that
                # lands as the event fires, and close() would wait for this task forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self.wake.wait()
            # …then for a token; whatever arrives meanwhile joins this message. A halt does
            # not wait: the trader must hear of it now, whatever fills or errors spent the
            # bucket, and it cannot storm (at most two notes per halt, HALTED and the verdict).
            while not self.digest.holds("halt") and (wait := self.bucket.wait_s()) > 0:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self.wake.wait()
            self.bucket.take()
            await self.send(*self.digest.take())

    async def send(self, title: str, body: str, notes: int) -> bool:
        try:
            ok = await in_daemon_thread(self.apprise.notify, body=body, title=title)
        except Exception as exc:  # Apprise reports failure by False; anything else is a bug
            log.warning("notification to %s raised %s", self.name, type(exc).__name__)
            ok = False
        if ok:
            self.sent += 1
        else:
            self.failed += 1
            log.warning("notification to %s failed (%d event(s) in it not delivered); the desk "
                        "goes on", self.name, notes)
        return bool(ok)


class Notifier:
    """The companion ``engine.companions`` starts (factory ``notifier``)."""

    def __init__(self, engine: Any, services: list[Service], cfg: NotifyConfig,
                 secrets: tuple[str, ...] = ()) -> None:
        self.engine = engine
        self.services = services
        self.cfg = cfg
        self.kinds = frozenset(cfg.events)
        self.classify = Classifier(_state(engine))
        self._secrets = secrets
        self._guard: Any = None
        self._sub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unprotected: dict[str, float] = {}  # symbol → first seen (monotonic)
        self._told_unprotected: set[str] = set()
        self._restarts_seen = 0
        self._reconnects: deque[float] = deque()
        self._storm = False

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            if self._sub is not None:  # what the factory subscribed to is not read
                self._sub.close()
                self._sub = None
            raise

    async def _start(self) -> None:
        from tapedesk.engine.notify_secrets import guard_logs, secret_parts

        if not self.services:  # the companion's case: services come from the keyring
            urls = await asyncio.to_thread(load_urls, self.cfg.urls)  # D-Bus may block
            self._secrets += tuple(p for u in urls.values() for p in secret_parts(u))
            self._guard = guard_logs(self._secrets)  # before Apprise reads the URLs
            # Apprise discovers its plugins on first use (~0.4 s of CPU): not on the loop.
            self.services, problems = await asyncio.to_thread(build_services, self.cfg, urls)
            guard_logs((), self._guard)  # and the loggers importing Apprise created (urllib3)
            if problems:
                from tapedesk.engine.events import ExplanationKind

                for problem in problems:
                    self.engine.explain(ExplanationKind.ERROR, f"Notifications: {problem}.")
                with contextlib.suppress(Exception):  # said now, not at the next commit
                    await self.engine.commit()
            if not self.services:
                raise RuntimeError("no notification service usable (" + "; ".join(problems)
                                   + ")")
        if self._guard is None:
            self._guard = guard_logs(self._secrets)
        if self._sub is None:
            self._sub = self.engine.subscribe()
        self._restarts_seen = _restart_count(self.engine)
        self._tasks = [asyncio.create_task(self._consume(), name="notify-consume"),
                       asyncio.create_task(self._watch(), name="notify-watch")]
        for svc in self.services:
            svc.task = asyncio.create_task(svc.run(), name=f"notify-{svc.name}")
        log.info("notifications on: %s", ", ".join(s.name for s in self.services))

    def note(self, note: Note) -> None:
        if note.kind in self.kinds:
            for svc in self.services:
                svc.add(note)

    async def _consume(self) -> None:
        async for item in self._sub:
            try:
                note = self.classify(item)
            except Exception:  # a notification must never cost the desk anything
                log.warning("notification for %s not built", type(item).__name__, exc_info=True)
                continue
            if note is not None:
                self.note(note)

    async def _watch(self) -> None:
        said = False
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                self.check_unprotected(time.monotonic())
                self.check_reconnects(time.monotonic())
            except Exception as exc:  # never fatal, but never unseen: said once
                if not said:
                    said = True
                    log.warning("notification watch failed (%s); UNPROTECTED and "
                                "reconnect-storm notes may not be sent", type(exc).__name__)
                    log.debug("notification watch failure", exc_info=True)

    def check_unprotected(self, now: float) -> None:
        orders = getattr(self.engine, "orders", None)
        current = set(orders.unprotected()) if orders is not None else set()
        for sym in list(self._unprotected):
            if sym not in current:
                del self._unprotected[sym]
                self._told_unprotected.discard(sym)
        for sym in current:
            since = self._unprotected.setdefault(sym, now)
            if sym not in self._told_unprotected and now - since >= self.cfg.unprotected_after_s:
                self._told_unprotected.add(sym)
                pos = self.engine.position(sym)
                qty = f"{pos.side} {pos.qty} " if pos is not None else ""
                self.note(Note("unprotected", sym,
                               f"UNPROTECTED {qty}{sym}: no stop on the exchange for "
                               f"{now - since:.0f} s; the desk closes it at market when "
                               "risk.unprotected_grace_s runs out."))

    def check_reconnects(self, now: float) -> None:
        count = _restart_count(self.engine)
        for _ in range(max(0, count - self._restarts_seen)):
            self._reconnects.append(now)
        self._restarts_seen = count
        window = self.cfg.storm_window_s
        while self._reconnects and now - self._reconnects[0] > window:
            self._reconnects.popleft()
        n = len(self._reconnects)
        if n >= self.cfg.storm_reconnects and not self._storm:
            self._storm = True
            self.note(Note("reconnect_storm", "",
                           f"Reconnect storm: {n} stream reconnects in the last {window:.0f} s "
                           f"(last: {redact(_last_restart(self.engine))}). Check the network; "
                           "stale data stops new entries."))
        elif n < self.cfg.storm_reconnects:
            self._storm = False

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._sub is not None:
            # What the engine's last commit announced and the consumer has not read yet.
            for item in self._sub.drain():
                with contextlib.suppress(Exception):
                    if (note := self.classify(item)) is not None:
                        self.note(note)
            self._sub.close()
        for svc in self.services:
            if svc.task is not None:
                svc.task.cancel()
        tasks = [*self._tasks, *(s.task for s in self.services if s.task)]
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_FLUSH_S)  # bounded, whatever they do
        # What waits (a halt said just before quitting) gets one last try, bounded in time.
        last = [svc.send(*svc.digest.take()) for svc in self.services if svc.digest]
        if last:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*last), CLOSE_FLUSH_S)
        if self._guard is not None:
            from tapedesk.engine.notify_secrets import unguard_logs

            unguard_logs(self._guard)


def _state(engine: Any) -> Any:
    with contextlib.suppress(Exception):
        return engine.snapshot().state
    return None


def _supervisors(engine: Any) -> list[Any]:
    """The stream supervisors a live desk runs (market data, user data); none in a replay."""
    feed = getattr(engine, "feed", None)
    market = getattr(getattr(feed, "inner", None), "supervisors", None) or []
    user = getattr(getattr(engine, "venue", None), "user_stream", None)
    return [*market, *([user] if user is not None else [])]


def _restart_count(engine: Any) -> int:
    return sum(len(getattr(s, "restarts", ()) or ()) for s in _supervisors(engine))


def _last_restart(engine: Any) -> str:
    for s in _supervisors(engine):
        if getattr(s, "restarts", None):
            return str(s.restarts[-1])[:200]
    return "no reason given"


def build_services(cfg: NotifyConfig, urls: dict[str, str]) -> tuple[list[Service], list[str]]:
    """One Service per name whose URL Apprise accepts; the problems, in words without URLs."""
    import apprise

    services, problems = [], []
    for name in cfg.urls:
        url = urls.get(name)
        if url is None:
            problems.append(f"no URL stored for {name}: run `tapedesk notify add {name}`")
            continue
        ap = apprise.Apprise()
        if not ap.add(url):
            problems.append(f"the URL stored for {name} is not one Apprise understands: store "
                            f"it again with `tapedesk notify add {name}`")
            continue
        services.append(Service(name, ap, cfg))
    return services, problems


def load_urls(names: list[str]) -> dict[str, str]:
    from tapedesk.engine.notify_secrets import load_url

    return {n: u for n in names if (u := load_url(n)) is not None}


def notifier(engine: Any) -> Notifier | None:
    """Factory for engine.companions: None while ``[notify] urls`` is empty."""
    cfg: NotifyConfig = engine.config.notify
    if not cfg.urls:
        return None
    n = Notifier(engine, [], cfg)
    # Subscribed now, not once started: the start runs beside the desk (engine.companions)
    # and the desk's first fills must wait in the mailbox, not be missed.
    n._sub = engine.subscribe()
    return n
