"""A real desk for the API tests: the replay engine on the bundled real sample, paper venue,
journal on disk, the API started by the desk itself (engine.companions), its token in a
keyring backend of the test's own (in memory, never the user's keyring)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import pytest
from tapedesk.engine.api.config import ApiConfig
from tapedesk.engine.api.token import load_token
from tapedesk.engine.assembly import build_replay_engine
from tapedesk.engine.companions import started
from tapedesk.engine.config import DeskConfig

from tests.engine.helpers import write_sample_csv


class MemoryKeyring:
    """The three calls the token needs. Deliberately not a ``KeyringBackend`` subclass: those
    register themselves with keyring, and every later test in this process would see it."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.items[service, username]


@pytest.fixture
def test_keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    backend = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: backend)
    return backend


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_csv(tmp_path_factory.mktemp("api-data") / "btc_1m.csv", days=2)


@dataclass
class Desk:
    engine: Any
    server: Any
    token: str

    @property
    def url(self) -> str:
        return self.server.url

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(self, path: str, method: str = "GET") -> tuple[int, Any, Any]:
        """One request with the token: (status, JSON or text body, headers)."""
        import aiohttp

        async with aiohttp.ClientSession(headers=self.auth()) as s, s.request(
                method, self.url + path) as r:
            body = await (r.json() if r.content_type == "application/json" else r.text())
            return r.status, body, r.headers


def replay_engine(data: Path, ddir: Path, api: bool = True) -> Any:
    ddir.mkdir(parents=True, exist_ok=True)
    cfg = DeskConfig(api=ApiConfig(enabled=api, port=0))
    return build_replay_engine(data, data_dir=ddir, config=cfg, speed=0, control=api)


async def run_until(eng: Any, done: Any) -> None:
    """Feed the replay by hand until ``done(eng)``, committing as the desk does."""
    await eng.start()
    if not hasattr(eng, "_test_batches"):  # a second call goes on where the first stopped
        eng._test_batches = eng.feed.batches()
    async for batch in eng._test_batches:
        for ev in batch:
            eng.process(ev)
            if done(eng):
                await eng.commit()
                return
        await eng.commit()
    raise AssertionError("the sample never reached the state the test needs")


def protected_position(eng: Any) -> bool:
    """An open position whose stop and target rest on the venue, after a closed trade."""
    return bool(eng.trades and eng.book.positions
                and eng.orders.protection(next(iter(eng.book.positions))))


@pytest.fixture
async def desk(tmp_path: Path, sample_csv: Path, test_keyring: MemoryKeyring):
    eng = replay_engine(sample_csv, tmp_path / "d")
    try:
        await run_until(eng, protected_position)
        server = await started(eng.companions, "ApiServer")
        assert server is not None
        token = load_token(test_keyring)
        assert token is not None
        yield Desk(eng, server, token.reveal())
    finally:
        await eng.stop()
