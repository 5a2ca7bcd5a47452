"""The control socket's request parsing under hypothesis-made requests, over a real socket.

Whatever a client sends (JSON of any shape, invalid UTF-8, no newline, deep nesting, a
megabyte line), the desk answers with exactly one JSON line carrying ``ok`` and keeps serving;
an unknown command is refused naming the known ones. The engine behind the socket is a stub:
this is about the protocol edge, not about what halt does (tests/engine covers that).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tapedesk.engine.control import COMMANDS, ControlServer


class StubEngine:
    mode = "paper"
    reconciliation = None

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def emergency_stop(self) -> None:
        self.calls.append("halt")

    async def pause(self) -> None:
        self.calls.append("pause")

    async def resume(self) -> None:
        self.calls.append("resume")

    async def resolve_difference(self, key: Any, action: Any) -> str:
        raise KeyError(key)

    def snapshot(self) -> Any:
        return SimpleNamespace(state="RUNNING", positions={}, to_json=lambda: {"state": "RUNNING"})


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Path, StubEngine]]:
    folder = Path(tempfile.mkdtemp(prefix="td-ctl-", dir="/tmp"))
    path = folder / "paper.sock"
    engine = StubEngine()
    loop = asyncio.new_event_loop()
    ctl = ControlServer(engine, path)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(ctl.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield path, engine
    asyncio.run_coroutine_threadsafe(ctl.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    shutil.rmtree(folder, ignore_errors=True)


def exchange(path: Path, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(15)
        s.connect(str(path))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)  # no newline? the server still gets EOF
        buf = b""
        while chunk := s.recv(65536):
            buf += chunk
    return buf


def one_answer(raw: bytes) -> dict[str, Any]:
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw[:200]
    answer = json.loads(raw)
    assert isinstance(answer, dict) and "ok" in answer
    return answer


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8,
)
REQUESTS = st.one_of(
    st.fixed_dictionaries({"cmd": st.one_of(st.sampled_from([*COMMANDS, "", "HALT", "exit"]),
                                            JSON)},
                          optional={"key": JSON, "action": JSON}).map(
        lambda d: json.dumps(d).encode() + b"\n"),
    JSON.map(lambda v: json.dumps(v).encode() + b"\n"),
    st.binary(max_size=200),
    st.sampled_from([b"", b"\n", b"{", b"[" * 5000 + b"\n", b"\xff\xfe\n", b"null\n",
                     b'{"cmd": "ping"}', b'{"cmd": ["halt"]}\n', b"x" * 70_000 + b"\n"]),
)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(REQUESTS)
def test_any_request_gets_exactly_one_json_answer_and_the_desk_keeps_serving(
    server: tuple[Path, StubEngine], payload: bytes,
) -> None:
    path, _engine = server
    answer = one_answer(exchange(path, payload))
    if not answer["ok"]:
        assert isinstance(answer.get("error"), str) and "\n" not in answer["error"]
    assert one_answer(exchange(path, b'{"cmd": "ping"}\n')) == {"ok": True, "mode": "paper"}


def test_an_unknown_command_is_refused_naming_the_known_ones(
    server: tuple[Path, StubEngine],
) -> None:
    path, engine = server
    answer = one_answer(exchange(path, b'{"cmd": "sell everything"}\n'))
    assert answer["ok"] is False
    assert answer["error"] == f"unknown command 'sell everything'; known: {', '.join(COMMANDS)}"
    calls = len(engine.calls)
    one_answer(exchange(path, b'{"cmd": "halt"}\n'))
    assert engine.calls[calls:] == ["halt"]
