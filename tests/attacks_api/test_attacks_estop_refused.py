"""POST /api/emergency-stop when the venue refuses: the answer must say "not verified flat"
(503), never 200. In process: the desk of tests/api (real replay engine, paper venue,
journal on disk, API started by the desk) with its venue made to refuse the closes, or
made unreachable; the HTTP side is a real client over loopback."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from tapedesk.engine.api.token import load_token
from tapedesk.engine.events import OrderRole

from tests.api.conftest import MemoryKeyring, protected_position, replay_engine, run_until


async def _stop(url: str, token: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s, \
            s.post(f"{url}/api/emergency-stop?wait=1") as r:
        return r.status, await r.json()


@pytest.mark.parametrize("fault", ["refuses closes", "unreachable"])
async def test_emergency_stop_the_venue_refuses_is_503_not_verified(
        tmp_path: Path, sample_csv: Path, test_keyring: MemoryKeyring,
        monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    eng = replay_engine(sample_csv, tmp_path / "d")
    try:
        await run_until(eng, protected_position)
        from tapedesk.engine.companions import started

        server = await started(eng.companions, "ApiServer")
        token = load_token(test_keyring).reveal()
        venue = eng.venue
        if fault == "refuses closes":
            real = venue._reject_reason
            monkeypatch.setattr(venue, "_reject_reason", lambda intent: (
                "-2022 ReduceOnly Order is rejected" if intent.role is OrderRole.FLATTEN
                else real(intent)))
        else:
            async def down(*_: object) -> None:
                raise ConnectionError("venue unreachable")

            monkeypatch.setattr(venue, "fetch_positions", down)
        status, answer = await _stop(server.url, token)
        assert status == 503, answer
        assert answer["flat"] is False and answer["state"] == "HALTED"
        if fault == "unreachable":
            assert answer["verified"] is False and "unreachable" in answer["error"]
        else:
            assert answer["verified"] is True and answer["positions"] >= 1
        assert eng.halted
    finally:
        await eng.stop()
