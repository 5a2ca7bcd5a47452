"""The control socket against whatever another local process may send: property-based.

A real engine (paper venue, real journal) serves its control socket on a loop in a thread;
hypothesis sends raw bytes, arbitrary JSON and well-formed commands with odd fields. Every
request gets exactly one JSON line back (``ok`` true, or false with a one-line ``error``),
and the desk still answers ``ping`` afterwards.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tapedesk.engine.assembly import build_replay_engine
from tapedesk.engine.control import COMMANDS, send

from tests.engine.helpers import write_sample_csv


@pytest.fixture(scope="module")
def desk_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("control")
    data = write_sample_csv(tmp / "b.csv", days=1)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    engine = build_replay_engine(data, data_dir=tmp / "d", control=True)
    asyncio.run_coroutine_threadsafe(engine.start(), loop).result(60)
    try:
        yield tmp / "d" / "paper.sock"
    finally:
        asyncio.run_coroutine_threadsafe(engine.stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _raw(path: Path, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(path))
        s.sendall(payload.replace(b"\n", b" ") + b"\n")
        buf = b""
        while chunk := s.recv(65536):
            buf += chunk
    return buf


def _check(answer: bytes) -> dict:
    assert answer.endswith(b"\n") and answer.count(b"\n") == 1, answer
    doc = json.loads(answer)
    assert isinstance(doc, dict) and isinstance(doc.get("ok"), bool), doc
    if not doc["ok"]:
        assert isinstance(doc.get("error"), str) and "\n" not in doc["error"], doc
    return doc


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
requests = st.fixed_dictionaries(
    {"cmd": st.sampled_from(COMMANDS) | st.text(max_size=12) | json_values},
    optional={
        "wait": json_values,
        "key": json_values,
        "action": st.sampled_from(["adopt", "flatten", "ignore", ""]) | json_values,
    },
)
few = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@few
@given(payload=st.binary(max_size=400))
def test_any_bytes_get_one_json_line_back(desk_socket: Path, payload: bytes) -> None:
    _check(_raw(desk_socket, payload))


@few
@given(request=requests | json_values)
def test_any_json_request_gets_one_json_line_back(desk_socket: Path, request: object) -> None:
    if isinstance(request, dict) and request.get("cmd") == "halt":
        request["wait"] = 1  # a real emergency stop: bounded, the venue is flat anyway
    doc = _check(_raw(desk_socket, json.dumps(request).encode()))
    cmd = request.get("cmd") if isinstance(request, dict) else None
    if cmd == "halt":
        assert doc["ok"] and doc["verified"] and doc["flat"]  # nothing open on this desk
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        assert doc["ok"] is False and "unknown command" in doc["error"]


def test_the_desk_still_answers_after_the_barrage(desk_socket: Path) -> None:
    assert send(desk_socket, "ping", timeout=10) == {"ok": True, "mode": "paper"}
